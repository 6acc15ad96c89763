// torch.nn.TransformerDecoderLayer and torch.nn.TransformerDecoder, batch-first, post-norm or
// pre-norm, with torch's submodule names (self_attn, multihead_attn, linear1, dropout, linear2,
// norm1..3, dropout1..3; layers.N and norm in the stack), and a key/value cache for incremental
// decoding.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "core/nn/kv_cache.h"
#include "core/nn/multihead_attention.h"
#include "core/nn/transformer_layer_options.h"

namespace mtl::nn {

// torch.nn.TransformerDecoder's masks (conventions as MultiheadAttention's).
struct DecoderMasks {
  c10::optional<at::Tensor> tgtMask;               // (T, T) or (B * nhead, T, T), e.g. squareSubsequentMask
  c10::optional<at::Tensor> memoryMask;            // (T, S) or (B * nhead, T, S)
  c10::optional<at::Tensor> tgtKeyPaddingMask;     // (B, T)
  c10::optional<at::Tensor> memoryKeyPaddingMask;  // (B, S)
};

class TransformerDecoderLayerImpl : public torch::nn::Cloneable<TransformerDecoderLayerImpl> {
 public:
  explicit TransformerDecoderLayerImpl(const TransformerLayerOptions& options);
  void reset() override;

  // tgt (B, T, E), memory (B, S, E). With a cache, tgt holds only the new positions and every
  // target mask covers the cached positions too (keys: past + new); see TransformerDecoder.
  at::Tensor forward(const at::Tensor& tgt, const at::Tensor& memory, const DecoderMasks& masks = {}, DecoderLayerCache* cache = nullptr);

  TransformerLayerOptions options;
  MultiheadAttention selfAttn{nullptr}, multiheadAttn{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::Dropout dropout{nullptr}, dropout1{nullptr}, dropout2{nullptr}, dropout3{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
};

TORCH_MODULE(TransformerDecoderLayer);

class TransformerDecoderImpl : public torch::nn::Cloneable<TransformerDecoderImpl> {
 public:
  explicit TransformerDecoderImpl(const TransformerStackOptions& options);
  void reset() override;

  // Without a cache: torch.nn.TransformerDecoder.forward (masks as given).
  // With a cache (incremental decoding): tgt holds the positions after the cached ones (usually
  // one); self-attention is causal over past + new positions, so masks.tgtMask must be empty, and
  // masks.tgtKeyPaddingMask, if given, covers past + new positions. Cross-attention keys and
  // values are computed from memory on the first step and reused. Outputs equal the rows of a full
  // causal forward over the whole sequence.
  at::Tensor forward(const at::Tensor& tgt, const at::Tensor& memory, const DecoderMasks& masks = {}, DecoderCache* cache = nullptr);

  // An empty cache with one slot per layer.
  DecoderCache makeCache() const { return DecoderCache(layers->size()); }
  TransformerDecoderLayerImpl& layer(size_t index) { return *layers->ptr<TransformerDecoderLayerImpl>(index); }

  TransformerStackOptions options;
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm norm{nullptr};  // null without a final norm
};

TORCH_MODULE(TransformerDecoder);

}  // namespace mtl::nn
