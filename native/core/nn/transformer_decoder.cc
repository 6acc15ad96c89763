#include "core/nn/transformer_decoder.h"

#include "core/nn/transformer_encoder.h"

namespace mtl::nn {

TransformerDecoderLayerImpl::TransformerDecoderLayerImpl(const TransformerLayerOptions& options_) : options(options_) { reset(); }

void TransformerDecoderLayerImpl::reset() {
  validate(options);
  const auto& o = options;
  // torch's registration order, so parameter names come out in torch's order too.
  selfAttn = register_module("self_attn", MultiheadAttention(attentionOptions(o)));
  multiheadAttn = register_module("multihead_attn", MultiheadAttention(attentionOptions(o)));
  linear1 = register_module("linear1", makeLinear(o.dModel(), o.dimFeedforward()));
  dropout = register_module("dropout", makeDropout(o.activationDropout().value_or(o.dropout())));
  linear2 = register_module("linear2", makeLinear(o.dimFeedforward(), o.dModel()));
  norm1 = register_module("norm1", makeLayerNorm(o.dModel(), o.layerNormEps()));
  norm2 = register_module("norm2", makeLayerNorm(o.dModel(), o.layerNormEps()));
  norm3 = register_module("norm3", makeLayerNorm(o.dModel(), o.layerNormEps()));
  dropout1 = register_module("dropout1", makeDropout(o.dropout()));
  dropout2 = register_module("dropout2", makeDropout(o.dropout()));
  dropout3 = register_module("dropout3", makeDropout(o.dropout()));
}

at::Tensor TransformerDecoderLayerImpl::forward(const at::Tensor& tgt, const at::Tensor& memory, const DecoderMasks& masks,
                                                DecoderLayerCache* cache) {
  const bool normFirst = options.normFirst();
  at::Tensor x = residual(tgt, norm1, normFirst, [&](const at::Tensor& h) {
    return dropout1(
        selfAttn
            ->forward(h, h, h, {masks.tgtMask, masks.tgtKeyPaddingMask}, false, true, cache ? &cache->self : nullptr, CacheUpdate::kAppend)
            .output);
  });
  x = residual(x, norm2, normFirst, [&](const at::Tensor& h) {
    return dropout2(multiheadAttn
                        ->forward(h, memory, memory, {masks.memoryMask, masks.memoryKeyPaddingMask}, false, true,
                                  cache ? &cache->cross : nullptr, CacheUpdate::kReuse)
                        .output);
  });
  return residual(x, norm3, normFirst,
                  [&](const at::Tensor& h) { return dropout3(feedForward(h, linear1, dropout, linear2, options.activation())); });
}

TransformerDecoderImpl::TransformerDecoderImpl(const TransformerStackOptions& options_) : options(options_) { reset(); }

void TransformerDecoderImpl::reset() {
  validate(options);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.numLayers(); ++i) layers->push_back(TransformerDecoderLayer(options.layer()));
  norm = nullptr;
  if (options.norm()) norm = register_module("norm", makeLayerNorm(options.layer().dModel(), options.layer().layerNormEps()));
}

at::Tensor TransformerDecoderImpl::forward(const at::Tensor& tgt, const at::Tensor& memory, const DecoderMasks& masks,
                                           DecoderCache* cache) {
  DecoderMasks layerMasks = masks;
  if (cache) {
    TORCH_CHECK(cache->layers.size() == layers->size(), "the cache has ", cache->layers.size(), " layers but the decoder has ",
                layers->size());
    TORCH_CHECK(!masks.tgtMask, "with a key/value cache, self-attention is causal: leave tgt_mask empty");
    TORCH_CHECK(tgt.dim() == 3, "tgt must be (B, T, E)");
    const int64_t newLen = tgt.size(1);
    // A single new position may see every key; longer steps need the causal mask over past + new.
    if (newLen > 1) layerMasks.tgtMask = causalMaskWithPast(newLen, cache->length(), tgt.options());
  }
  at::Tensor output = tgt;
  for (size_t i = 0; i < layers->size(); ++i) {
    output = layer(i).forward(output, memory, layerMasks, cache ? &cache->layers[i] : nullptr);
  }
  return norm ? norm(output) : output;
}

}  // namespace mtl::nn
