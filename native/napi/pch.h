// Precompiled header for the binding layer.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>
