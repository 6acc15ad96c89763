// Precompiled header for the binding layer.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>
