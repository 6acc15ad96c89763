// torch.nn.TransformerEncoderLayer and torch.nn.TransformerEncoder, batch-first, post-norm or
// pre-norm, with torch's submodule names (self_attn, linear1, dropout, linear2, norm1, norm2,
// dropout1, dropout2; layers.N and norm in the stack). Written here rather than taken from
// libtorch, whose C++ layer has neither norm_first nor batch_first.
#pragma once
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "core/nn/multihead_attention.h"
#include "core/nn/transformer_layer_options.h"

namespace mtl::nn {

class TransformerEncoderLayerImpl : public torch::nn::Cloneable<TransformerEncoderLayerImpl> {
 public:
  explicit TransformerEncoderLayerImpl(const TransformerLayerOptions& options);
  void reset() override;

  // src (B, S, E); srcMask (S, S) or (B * nhead, S, S); srcKeyPaddingMask (B, S). Mask
  // conventions are MultiheadAttention's (bool True = not allowed; floats are added).
  at::Tensor forward(const at::Tensor& src, const c10::optional<at::Tensor>& srcMask = {},
                     const c10::optional<at::Tensor>& srcKeyPaddingMask = {});

  // Whether forward takes libtorch's fused inference kernel (_transformer_encoder_layer_fwd, what
  // torch.nn.TransformerEncoderLayer runs in eval mode): eval mode, no gradient to record, fp32 without
  // autocast or int8 packs, no srcMask, a bool key padding mask if any, an even head count, biases.
  bool fastPathApplies(const at::Tensor& src, const c10::optional<at::Tensor>& srcMask,
                       const c10::optional<at::Tensor>& srcKeyPaddingMask) const;

  TransformerLayerOptions options;
  MultiheadAttention selfAttn{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::Dropout dropout{nullptr}, dropout1{nullptr}, dropout2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
};

TORCH_MODULE(TransformerEncoderLayer);

class TransformerEncoderImpl : public torch::nn::Cloneable<TransformerEncoderImpl> {
 public:
  explicit TransformerEncoderImpl(const TransformerStackOptions& options);
  void reset() override;

  at::Tensor forward(const at::Tensor& src, const c10::optional<at::Tensor>& mask = {},
                     const c10::optional<at::Tensor>& srcKeyPaddingMask = {});

  TransformerEncoderLayerImpl& layer(size_t index) { return *layers->ptr<TransformerEncoderLayerImpl>(index); }

  TransformerStackOptions options;
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm norm{nullptr};  // null without a final norm
};

TORCH_MODULE(TransformerEncoder);

// The blocks a layer is built of, made the same way for encoder and decoder layers.
torch::nn::Linear makeLinear(int64_t in, int64_t out);
torch::nn::Dropout makeDropout(double p);
torch::nn::LayerNorm makeLayerNorm(int64_t features, double eps);
MultiheadAttentionOptions attentionOptions(const TransformerLayerOptions& options);

}  // namespace mtl::nn
