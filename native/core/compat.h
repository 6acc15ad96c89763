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

// Declared only: the c10d headers are heavy, and only native/core/distributed includes them.
namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

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

// Whether autocast is on for one device type in the calling thread, and the dtype it computes in.
inline bool autocastEnabled(c10::DeviceType device) {
#if MTL_TORCH_VERSION_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
inline at::ScalarType autocastDtype(c10::DeviceType device) {
#if MTL_TORCH_VERSION_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

// libtorch's fused scaled-dot-product attention, for q, k, v shaped (..., L, E) and an optional
// additive float mask broadcastable to (..., L, S). Only the output is returned: callers that
// need the attention weights take the plain path (native/core/nn/attention.h). The mask is always
// additive here because the two versions agree on that, and the plain path uses the same form.
// 1.13 exposes it as the private op `_scaled_dot_product_attention` (it returns output and
// weights); 2.x as `scaled_dot_product_attention`, which may pick a flash or memory-efficient kernel.
inline at::Tensor fusedScaledDotProductAttention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                                 const c10::optional<at::Tensor>& additiveMask, double dropoutP, bool isCausal) {
#if MTL_TORCH_VERSION_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(query, key, value, additiveMask, dropoutP, isCausal);
#else
  return std::get<0>(at::_scaled_dot_product_attention(query, key, value, additiveMask, dropoutP,
                                                       /*need_attn_weights=*/false, isCausal));
#endif
}

// The c10d object that runs collectives. In 1.13 ProcessGroupGloo and ProcessGroupNCCL derive from
// c10d::ProcessGroup; 2.0 split that class into a dispatching ProcessGroup that holds one Backend per
// device type, and the Gloo and NCCL classes became Backends. mtl-torch creates one backend and calls
// its collectives directly (allreduce, broadcast, barrier and Work::wait are the same virtual
// functions with the same signatures on both sides of the split), so this alias is the only
// difference. Include <torch/csrc/distributed/c10d/ProcessGroup.hpp> for the full type: in 2.x it
// includes Backend.hpp.
#if MTL_TORCH_VERSION_AT_LEAST(2, 0)
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

}  // namespace mtl::compat
