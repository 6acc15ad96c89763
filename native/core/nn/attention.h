// Attention math shared by every attention block: torch.nn's mask rules and the two ways of
// computing softmax(q kᵀ / √d + mask) v (libtorch's fused kernel, or the plain path that can also
// return the weights).
#pragma once
#include <ATen/ATen.h>
#include <c10/util/Optional.h>

namespace mtl::nn {

// The masks torch.nn.MultiheadAttention takes, with its conventions:
//  - attnMask (T, S) or (B * H, T, S): bool True = this position may NOT be attended to; a float
//    mask is added to the attention scores.
//  - keyPaddingMask (B, S): bool True = this key is padding and is ignored; a float mask is added.
struct AttentionMasks {
  c10::optional<at::Tensor> attnMask;
  c10::optional<at::Tensor> keyPaddingMask;
};

// Turns a bool mask (True = not allowed) into an additive one (-inf where True); float masks are
// cast to `dtype`. This is torch's own conversion, so the two mask kinds give the same scores.
at::Tensor additiveMask(const at::Tensor& mask, c10::ScalarType dtype);

// Merges both masks into one additive float mask broadcastable to (B, H, T, S), validating their
// shapes with torch's messages; nullopt when there is no mask at all.
c10::optional<at::Tensor> mergeAttentionMasks(const AttentionMasks& masks, int64_t batch, int64_t heads, int64_t tgtLen, int64_t srcLen,
                                              c10::ScalarType dtype);

// torch.nn.Transformer.generate_square_subsequent_mask(n): -inf above the diagonal, 0 elsewhere.
at::Tensor squareSubsequentMask(int64_t size, const at::TensorOptions& options = at::kFloat);

// The causal mask of `newLen` query positions that follow `pastLen` cached ones, over all
// pastLen + newLen keys: query i may see keys up to pastLen + i. Equals the bottom rows of
// squareSubsequentMask(pastLen + newLen).
at::Tensor causalMaskWithPast(int64_t newLen, int64_t pastLen, const at::TensorOptions& options);

struct AttentionResult {
  at::Tensor output;   // (..., T, E)
  at::Tensor weights;  // (..., T, S) after softmax and dropout; undefined unless requested
};

// softmax(q kᵀ / √E + mask) v for q (..., T, E), k (..., S, E), v (..., S, Ev) and an additive mask
// broadcastable to (..., T, S). Dropout (p = dropoutP) applies to the weights. Without
// needWeights it runs libtorch's fused kernel (compat.h), whose math is the same; with it, the
// plain path of torch.nn.functional.multi_head_attention_forward, which also returns the weights.
AttentionResult scaledDotProductAttention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                          const c10::optional<at::Tensor>& additive, double dropoutP, bool needWeights);

// torch.nn.functional.scaled_dot_product_attention: attnMask bool True = MAY attend (the opposite
// of MultiheadAttention's convention, as in torch), a float mask is added; isCausal applies the
// top-left causal mask (query i sees keys 0..i) and excludes attnMask.
AttentionResult functionalScaledDotProductAttention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                                    const c10::optional<at::Tensor>& attnMask, double dropoutP, bool isCausal,
                                                    bool needWeights);

}  // namespace mtl::nn
