// torch.nn.MultiheadAttention, batch-first, with torch's parameter names (in_proj_weight,
// in_proj_bias, out_proj.weight, out_proj.bias; q/k/v_proj_weight when kdim or vdim differ from
// embed_dim) and torch.nn.functional.multi_head_attention_forward's math, plus a key/value cache
// for incremental decoding.
#pragma once
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "core/nn/attention.h"
#include "core/nn/kv_cache.h"

namespace mtl::nn {

struct MultiheadAttentionOptions {
  MultiheadAttentionOptions(int64_t embedDim, int64_t numHeads) : embedDim_(embedDim), numHeads_(numHeads) {}
  TORCH_ARG(int64_t, embedDim);
  TORCH_ARG(int64_t, numHeads);
  TORCH_ARG(double, dropout) = 0.0;  // on the attention weights, in training mode
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(int64_t, kdim) = 0;  // 0: embedDim
  TORCH_ARG(int64_t, vdim) = 0;  // 0: embedDim
};

struct MultiheadAttentionOutput {
  at::Tensor output;   // (B, T, E)
  at::Tensor weights;  // (B, T, S) averaged over heads, or (B, H, T, S); undefined unless requested
};

class MultiheadAttentionImpl : public torch::nn::Cloneable<MultiheadAttentionImpl> {
 public:
  explicit MultiheadAttentionImpl(const MultiheadAttentionOptions& options);

  void reset() override;
  void resetParameters();

  // query (B, T, E), key (B, S, kdim), value (B, S, vdim). Weights are returned only with
  // needWeights (the plain path); otherwise attention runs through libtorch's fused kernel.
  // With a cache, kAppend (self-attention: query, key and value are this step's tokens) appends
  // the new keys and values and attends over all of them; kReuse (cross-attention) projects
  // key/value on the first call only. Masks then cover all cached keys.
  MultiheadAttentionOutput forward(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                   const AttentionMasks& masks = {}, bool needWeights = false, bool averageWeights = true,
                                   KeyValueCache* cache = nullptr, CacheUpdate update = CacheUpdate::kAppend);

  int64_t headDim() const { return options.embedDim() / options.numHeads(); }
  bool packedProjection() const { return options.kdim() == options.embedDim() && options.vdim() == options.embedDim(); }

  MultiheadAttentionOptions options;
  at::Tensor inProjWeight;                           // (3E, E) when packed
  at::Tensor qProjWeight, kProjWeight, vProjWeight;  // when kdim or vdim differ from E
  at::Tensor inProjBias;                             // (3E), undefined without bias
  torch::nn::Linear outProj{nullptr};

 private:
  struct Projections {
    at::Tensor query, key, value;  // (B, L, E) each
  };
  // The in-projection of torch's _in_projection_packed / _in_projection, including its shortcuts
  // when query, key and value are the same tensor (self-attention) or key is value.
  Projections project(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value) const;
  at::Tensor projectQuery(const at::Tensor& query) const;
  // (B, L, E) <-> (B, H, L, headDim)
  at::Tensor splitHeads(const at::Tensor& x) const;
  at::Tensor mergeHeads(const at::Tensor& x) const;
};

TORCH_MODULE(MultiheadAttention);

}  // namespace mtl::nn
