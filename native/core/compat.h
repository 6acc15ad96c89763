// Every difference between the libtorch versions mtl-torch builds against (Debian's 1.13 and the
// 2.x of PyTorch wheels) lives here, so the rest of the code is written once.
#pragma once
#include <ATen/ATen.h>
#include <torch/version.h>

#define MTL_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace mtl::compat {

inline const char* torchVersion() { return TORCH_VERSION; }

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
