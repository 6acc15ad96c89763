// Precompiled header for native/core: the libtorch headers every core file needs.
#pragma once
#include <ATen/ATen.h>
// Options (core/options.h): nearly every configurable part reads JSON.
#include <nlohmann/json.hpp>
// torch::nn's module system and the leaf blocks native/core/nn builds on (kept narrow: torch/torch.h
// would pull in optimizers, data loaders and serialization).
#include <torch/nn/cloneable.h>
#include <torch/nn/init.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
