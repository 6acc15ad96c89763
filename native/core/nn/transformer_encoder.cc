#include "core/nn/transformer_encoder.h"

#include <ATen/core/grad_mode.h>

#include "core/compat.h"
#include "core/nn/inference.h"

namespace mtl::nn {

torch::nn::Linear makeLinear(int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out)); }
torch::nn::Dropout makeDropout(double p) { return torch::nn::Dropout(torch::nn::DropoutOptions(p)); }
torch::nn::LayerNorm makeLayerNorm(int64_t features, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({features}).eps(eps));
}
MultiheadAttentionOptions attentionOptions(const TransformerLayerOptions& options) {
  return MultiheadAttentionOptions(options.dModel(), options.nhead()).dropout(options.attentionDropout().value_or(options.dropout()));
}

TransformerEncoderLayerImpl::TransformerEncoderLayerImpl(const TransformerLayerOptions& options_) : options(options_) { reset(); }

void TransformerEncoderLayerImpl::reset() {
  validate(options);
  const auto& o = options;
  // torch's registration order, so parameter names come out in torch's order too.
  selfAttn = register_module("self_attn", MultiheadAttention(attentionOptions(o)));
  linear1 = register_module("linear1", makeLinear(o.dModel(), o.dimFeedforward()));
  dropout = register_module("dropout", makeDropout(o.activationDropout().value_or(o.dropout())));
  linear2 = register_module("linear2", makeLinear(o.dimFeedforward(), o.dModel()));
  norm1 = register_module("norm1", makeLayerNorm(o.dModel(), o.layerNormEps()));
  norm2 = register_module("norm2", makeLayerNorm(o.dModel(), o.layerNormEps()));
  dropout1 = register_module("dropout1", makeDropout(o.dropout()));
  dropout2 = register_module("dropout2", makeDropout(o.dropout()));
}

bool TransformerEncoderLayerImpl::fastPathApplies(const at::Tensor& src, const c10::optional<at::Tensor>& srcMask,
                                                  const c10::optional<at::Tensor>& srcKeyPaddingMask) const {
  if (is_training() || src.dim() != 3 || src.scalar_type() != at::kFloat || (srcMask && srcMask->defined())) return false;
  if (!(src.device().is_cpu() || src.device().is_cuda()) || compat::autocastEnabled(src.device().type()) || int8Active()) return false;
  if (srcKeyPaddingMask && srcKeyPaddingMask->defined() && srcKeyPaddingMask->scalar_type() != at::kBool) return false;
  const MultiheadAttentionImpl& attention = *selfAttn;
  if (options.nhead() % 2 == 1 || !attention.inProjWeight.defined() || !attention.inProjBias.defined() ||
      !attention.outProj->bias.defined() || !linear1->bias.defined() || !linear2->bias.defined()) {
    return false;
  }
  // As torch.nn.TransformerEncoderLayer: the fused kernel has no derivative, so under grad mode it
  // runs only where none of the tensors it reads needs a gradient. These are the tensors it is given,
  // not the registered parameters: LoRA swaps trainable effective weights into the attention.
  if (at::GradMode::is_enabled()) {
    for (const at::Tensor* t :
         {&src, &attention.inProjWeight, &attention.inProjBias, &attention.outProj->weight, &attention.outProj->bias, &norm1->weight,
          &norm1->bias, &norm2->weight, &norm2->bias, &linear1->weight, &linear1->bias, &linear2->weight, &linear2->bias}) {
      if (t->defined() && t->requires_grad()) return false;
    }
  }
  return true;
}

at::Tensor TransformerEncoderLayerImpl::forward(const at::Tensor& src, const c10::optional<at::Tensor>& srcMask,
                                                const c10::optional<at::Tensor>& srcKeyPaddingMask) {
  if (fastPathApplies(src, srcMask, srcKeyPaddingMask)) {
    const bool padded = srcKeyPaddingMask && srcKeyPaddingMask->defined();
    return at::_transformer_encoder_layer_fwd(
        src, options.dModel(), options.nhead(), selfAttn->inProjWeight, selfAttn->inProjBias, selfAttn->outProj->weight,
        selfAttn->outProj->bias, options.activation() == Activation::kGelu, options.normFirst(), options.layerNormEps(), norm1->weight,
        norm1->bias, norm2->weight, norm2->bias, linear1->weight, linear1->bias, linear2->weight, linear2->bias,
        padded ? c10::optional<at::Tensor>(*srcKeyPaddingMask) : c10::nullopt, padded ? c10::optional<int64_t>(1) : c10::nullopt);
  }
  const AttentionMasks masks{srcMask, srcKeyPaddingMask};
  at::Tensor x = residual(src, norm1, options.normFirst(), [&](const at::Tensor& h) { return dropout1(selfAttn(h, h, h, masks).output); });
  return residual(x, norm2, options.normFirst(),
                  [&](const at::Tensor& h) { return dropout2(feedForward(h, linear1, dropout, linear2, options.activation())); });
}

TransformerEncoderImpl::TransformerEncoderImpl(const TransformerStackOptions& options_) : options(options_) { reset(); }

void TransformerEncoderImpl::reset() {
  validate(options);
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.numLayers(); ++i) layers->push_back(TransformerEncoderLayer(options.layer()));
  norm = nullptr;
  if (options.norm()) norm = register_module("norm", makeLayerNorm(options.layer().dModel(), options.layer().layerNormEps()));
}

at::Tensor TransformerEncoderImpl::forward(const at::Tensor& src, const c10::optional<at::Tensor>& mask,
                                           const c10::optional<at::Tensor>& srcKeyPaddingMask) {
  at::Tensor output = src;
  for (size_t i = 0; i < layers->size(); ++i) output = layer(i).forward(output, mask, srcKeyPaddingMask);
  return norm ? norm(output) : output;
}

}  // namespace mtl::nn
