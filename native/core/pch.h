// Precompiled header for native/core: the libtorch headers every core file needs.
#pragma once
#include <ATen/ATen.h>
