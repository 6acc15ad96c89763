// Every difference between the libtorch versions mtl-torch builds against (Debian's 1.13 and the
// 2.x of PyTorch wheels) lives here, so the rest of the code is written once.
#pragma once
#include <ATen/ATen.h>
#include <torch/version.h>

#define MTL_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace mtl::compat {

inline const char* torchVersion() { return TORCH_VERSION; }

}  // namespace mtl::compat
