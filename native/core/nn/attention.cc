#include "core/nn/attention.h"

#include <cmath>
#include <limits>

#include "core/compat.h"

namespace mtl::nn {

namespace {
constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();

void checkMaskDtype(const at::Tensor& mask, const char* name) {
  TORCH_CHECK(mask.scalar_type() == at::kBool || at::isFloatingType(mask.scalar_type()), "only bool and floating types of ", name,
              " are supported, got ", mask.scalar_type());
}
}  // namespace

at::Tensor additiveMask(const at::Tensor& mask, c10::ScalarType dtype) {
  if (mask.scalar_type() == at::kBool) {
    return at::zeros_like(mask, mask.options().dtype(dtype)).masked_fill_(mask, kNegativeInfinity);
  }
  return mask.to(dtype);
}

c10::optional<at::Tensor> mergeAttentionMasks(const AttentionMasks& masks, int64_t batch, int64_t heads, int64_t tgtLen, int64_t srcLen,
                                              c10::ScalarType dtype) {
  c10::optional<at::Tensor> merged;
  if (masks.attnMask && masks.attnMask->defined()) {
    const at::Tensor& mask = *masks.attnMask;
    checkMaskDtype(mask, "attn_mask");
    at::Tensor additive = additiveMask(mask, dtype);
    if (mask.dim() == 2) {
      TORCH_CHECK(mask.size(0) == tgtLen && mask.size(1) == srcLen, "The shape of the 2D attn_mask is ", mask.sizes(), ", but should be (",
                  tgtLen, ", ", srcLen, ").");
    } else if (mask.dim() == 3) {
      TORCH_CHECK(mask.size(0) == batch * heads && mask.size(1) == tgtLen && mask.size(2) == srcLen, "The shape of the 3D attn_mask is ",
                  mask.sizes(), ", but should be (", batch * heads, ", ", tgtLen, ", ", srcLen, ").");
      // (B * H, T, S) is indexed b * H + h, as torch splits heads: one (B, H, T, S) view.
      additive = additive.view({batch, heads, tgtLen, srcLen});
    } else {
      TORCH_CHECK(false, "attn_mask's dimension ", mask.dim(), " is not supported");
    }
    merged = additive;
  }
  if (masks.keyPaddingMask && masks.keyPaddingMask->defined()) {
    const at::Tensor& mask = *masks.keyPaddingMask;
    checkMaskDtype(mask, "key_padding_mask");
    TORCH_CHECK(mask.dim() == 2 && mask.size(0) == batch && mask.size(1) == srcLen, "expecting key_padding_mask shape of (", batch, ", ",
                srcLen, "), but got ", mask.sizes());
    at::Tensor additive = additiveMask(mask, dtype).view({batch, 1, 1, srcLen});
    merged = merged ? *merged + additive : additive;
  }
  return merged;
}

at::Tensor squareSubsequentMask(int64_t size, const at::TensorOptions& options) { return causalMaskWithPast(size, 0, options); }

at::Tensor causalMaskWithPast(int64_t newLen, int64_t pastLen, const at::TensorOptions& options) {
  TORCH_CHECK(newLen >= 0 && pastLen >= 0, "mask sizes must not be negative");
  return at::full({newLen, pastLen + newLen}, kNegativeInfinity, options).triu(pastLen + 1);
}

AttentionResult scaledDotProductAttention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                          const c10::optional<at::Tensor>& additive, double dropoutP, bool needWeights) {
  if (!needWeights) {
    return {compat::fusedScaledDotProductAttention(query, key, value, additive, dropoutP, /*isCausal=*/false), {}};
  }
  // torch.nn.functional.multi_head_attention_forward's order of operations: scale q first, then
  // add the mask to q kᵀ (baddbmm), softmax, dropout, times v.
  const at::Tensor scaled = query / std::sqrt(static_cast<double>(query.size(-1)));
  at::Tensor scores = at::matmul(scaled, key.transpose(-2, -1));
  if (additive) scores = scores + *additive;
  at::Tensor weights = at::softmax(scores, -1);
  if (dropoutP > 0.0) weights = at::dropout(weights, dropoutP, /*train=*/true);
  return {at::matmul(weights, value), weights};
}

AttentionResult functionalScaledDotProductAttention(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                                    const c10::optional<at::Tensor>& attnMask, double dropoutP, bool isCausal,
                                                    bool needWeights) {
  TORCH_CHECK(query.dim() >= 2 && key.dim() >= 2, "query and key must have at least 2 dimensions");
  c10::optional<at::Tensor> additive;
  if (attnMask && attnMask->defined()) {
    TORCH_CHECK(!isCausal, "an explicit attn_mask cannot be combined with is_causal=True");
    checkMaskDtype(*attnMask, "attn_mask");
    const at::Tensor& mask = *attnMask;
    additive = additiveMask(mask.scalar_type() == at::kBool ? mask.logical_not() : mask, query.scalar_type());
  } else if (isCausal) {
    additive = at::full({query.size(-2), key.size(-2)}, kNegativeInfinity, query.options()).triu(1);
  }
  return scaledDotProductAttention(query, key, value, additive, dropoutP, needWeights);
}

}  // namespace mtl::nn
