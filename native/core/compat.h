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

// libtorch's fused scaled-dot-product attention, for q, k, v shaped (..., L, E) and an optional
// additive float mask broadcastable to (..., L, S). Only the output is returned: callers that
// need the attention weights take the plain path (native/core/nn/attention.h). The mask is always
// additive here because the two versions agree on that, and the plain path uses the same form.
// 1.13 exposes it as the private op `_scaled_dot_product_attention` (it returns output and
// weights); 2.x as `scaled_dot_product_attention`, which may pick a flash or memory-efficient kernel.
inline at::Tensor fusedScaledDotProductAttention(const at::Tensor& query, const at::Tensor& key,
                                                 const at::Tensor& value,
                                                 const c10::optional<at::Tensor>& additiveMask,
                                                 double dropoutP, bool isCausal) {
#if MTL_TORCH_VERSION_AT_LEAST(2, 0)
  return at::scaled_dot_product_attention(query, key, value, additiveMask, dropoutP, isCausal);
#else
  return std::get<0>(at::_scaled_dot_product_attention(query, key, value, additiveMask, dropoutP,
                                                        /*need_attn_weights=*/false, isCausal));
#endif
}

}  // namespace mtl::compat
