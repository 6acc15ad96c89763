#include "core/nn/multihead_attention.h"

#include <torch/nn/init.h>

#include "core/nn/inference.h"

namespace mtl::nn {

namespace {
at::Tensor rowsOf(const at::Tensor& packed, int64_t block, int64_t embedDim) {
  return packed.defined() ? packed.narrow(0, block * embedDim, embedDim) : at::Tensor();
}
}  // namespace

MultiheadAttentionImpl::MultiheadAttentionImpl(const MultiheadAttentionOptions& options_) : options(options_) {
  if (options.kdim() == 0) options.kdim(options.embedDim());
  if (options.vdim() == 0) options.vdim(options.embedDim());
  reset();
}

void MultiheadAttentionImpl::reset() {
  const int64_t embedDim = options.embedDim();
  TORCH_CHECK(embedDim > 0 && options.numHeads() > 0, "embed_dim and num_heads must be positive");
  TORCH_CHECK(embedDim % options.numHeads() == 0, "embed_dim must be divisible by num_heads");
  TORCH_CHECK(options.dropout() >= 0.0 && options.dropout() <= 1.0, "dropout must be between 0 and 1");
  // Registration order is torch's, so named_parameters() lists the same names in the same order.
  if (packedProjection()) {
    inProjWeight = register_parameter("in_proj_weight", at::empty({3 * embedDim, embedDim}));
  } else {
    qProjWeight = register_parameter("q_proj_weight", at::empty({embedDim, embedDim}));
    kProjWeight = register_parameter("k_proj_weight", at::empty({embedDim, options.kdim()}));
    vProjWeight = register_parameter("v_proj_weight", at::empty({embedDim, options.vdim()}));
  }
  if (options.bias()) inProjBias = register_parameter("in_proj_bias", at::empty({3 * embedDim}));
  outProj = register_module("out_proj", torch::nn::Linear(torch::nn::LinearOptions(embedDim, embedDim).bias(options.bias())));
  resetParameters();
}

void MultiheadAttentionImpl::resetParameters() {
  // torch's _reset_parameters: Xavier-uniform in-projection, zero biases; out_proj keeps Linear's.
  torch::NoGradGuard noGrad;
  for (at::Tensor* weight : {&inProjWeight, &qProjWeight, &kProjWeight, &vProjWeight}) {
    if (weight->defined()) torch::nn::init::xavier_uniform_(*weight);
  }
  if (inProjBias.defined()) inProjBias.zero_();
  if (outProj->bias.defined()) outProj->bias.zero_();
}

at::Tensor MultiheadAttentionImpl::projectQuery(const at::Tensor& query) const {
  const int64_t embedDim = options.embedDim();
  const at::Tensor weight = packedProjection() ? rowsOf(inProjWeight, 0, embedDim) : qProjWeight;
  return linear(query, weight, rowsOf(inProjBias, 0, embedDim));
}

MultiheadAttentionImpl::Projections MultiheadAttentionImpl::project(const at::Tensor& query, const at::Tensor& key,
                                                                    const at::Tensor& value) const {
  const int64_t embedDim = options.embedDim();
  if (!packedProjection()) {
    return {projectQuery(query), linear(key, kProjWeight, rowsOf(inProjBias, 1, embedDim)),
            linear(value, vProjWeight, rowsOf(inProjBias, 2, embedDim))};
  }
  if (key.is_same(value)) {
    if (query.is_same(key)) {
      auto qkv = linear(query, inProjWeight, inProjBias).chunk(3, -1);
      return {qkv[0], qkv[1], qkv[2]};
    }
    const at::Tensor kvBias = inProjBias.defined() ? inProjBias.narrow(0, embedDim, 2 * embedDim) : at::Tensor();
    auto kv = linear(key, inProjWeight.narrow(0, embedDim, 2 * embedDim), kvBias).chunk(2, -1);
    return {projectQuery(query), kv[0], kv[1]};
  }
  return {projectQuery(query), linear(key, rowsOf(inProjWeight, 1, embedDim), rowsOf(inProjBias, 1, embedDim)),
          linear(value, rowsOf(inProjWeight, 2, embedDim), rowsOf(inProjBias, 2, embedDim))};
}

at::Tensor MultiheadAttentionImpl::splitHeads(const at::Tensor& x) const {
  return x.view({x.size(0), x.size(1), options.numHeads(), headDim()}).transpose(1, 2);
}

at::Tensor MultiheadAttentionImpl::mergeHeads(const at::Tensor& x) const {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), options.embedDim()});
}

MultiheadAttentionOutput MultiheadAttentionImpl::forward(const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
                                                         const AttentionMasks& masks, bool needWeights, bool averageWeights,
                                                         KeyValueCache* cache, CacheUpdate update) {
  TORCH_CHECK(query.dim() == 3 && key.dim() == 3 && value.dim() == 3,
              "MultiheadAttention expects batch-first 3-D query, key and value (B, L, E)");
  TORCH_CHECK(query.size(2) == options.embedDim(), "was expecting embedding dimension of ", options.embedDim(), ", but got ",
              query.size(2));
  TORCH_CHECK(key.size(2) == options.kdim() && value.size(2) == options.vdim(), "key and value must have ", options.kdim(), " and ",
              options.vdim(), " features, got ", key.size(2), " and ", value.size(2));
  TORCH_CHECK(key.size(0) == query.size(0) && value.size(0) == query.size(0) && key.size(1) == value.size(1),
              "key's sequence and batch dims ", key.sizes().slice(0, 2), " do not match value's ", value.sizes().slice(0, 2),
              " (or the batch of query)");
  const int64_t batch = query.size(0);
  const int64_t tgtLen = query.size(1);

  at::Tensor q, k, v;
  if (cache && update == CacheUpdate::kReuse && cache->filled()) {
    q = splitHeads(projectQuery(query));
    k = cache->keys;
    v = cache->values;
  } else {
    Projections projected = project(query, key, value);
    q = splitHeads(projected.query);
    k = splitHeads(projected.key);
    v = splitHeads(projected.value);
    if (cache) {
      if (update == CacheUpdate::kAppend && cache->filled()) {
        k = at::cat({cache->keys, k}, 2);
        v = at::cat({cache->values, v}, 2);
      }
      cache->keys = k;
      cache->values = v;
    }
  }

  const int64_t srcLen = k.size(2);
  const auto mask = mergeAttentionMasks(masks, batch, options.numHeads(), tgtLen, srcLen, q.scalar_type());
  const double dropoutP = is_training() ? options.dropout() : 0.0;
  AttentionResult attended = scaledDotProductAttention(q, k, v, mask, dropoutP, needWeights);
  MultiheadAttentionOutput result{linear(outProj, mergeHeads(attended.output)), {}};
  if (needWeights) {
    // torch averages as sum / num_heads, not mean(): the same rounding.
    result.weights = averageWeights ? attended.weights.sum(1) / options.numHeads() : attended.weights;
  }
  return result;
}

}  // namespace mtl::nn
