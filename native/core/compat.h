// Every difference between the libtorch versions mtl-torch builds against (Debian's 1.13 and the
// 2.x of PyTorch wheels) lives here, so the rest of the code is written once.
#pragma once
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>

#define MTL_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace mtl::compat {

inline const char* torchVersion() { return TORCH_VERSION; }

// The key of a parameter in torch::optim::Optimizer::state(): the TensorImpl address printed as a
// string in libtorch 1.13, the address itself in later versions. StateMap is the state() map type.
template <typename StateMap>
typename StateMap::key_type optimizerStateKey(const at::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream address;  // as c10::guts::to_string(impl) in 1.13
    address << parameter.unsafeGetTensorImpl();
    return address.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// Turns autocast on or off for one device type in the calling thread (autocast is thread-local),
// computing in `dtype` where it is on. libtorch 2.4 replaced the per-device functions.
inline void setAutocast(c10::DeviceType device, bool enabled, at::ScalarType dtype) {
#if MTL_TORCH_VERSION_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
}

}  // namespace mtl::compat
