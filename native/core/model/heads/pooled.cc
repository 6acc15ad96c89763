#include "core/model/heads/pooled.h"

#include <torch/nn/init.h>

namespace mtl::model {

PooledHeadImpl::PooledHeadImpl(int64_t outputs, int64_t decoderLayers, const HeadContext& context) {
  const int64_t dModel = context.config.encoder.dModel;
  if (decoderLayers > 0) {
    query_ = register_parameter("query", at::empty({1, 1, dModel}));
    torch::nn::init::normal_(query_, 0.0, 0.02);
    if (context.sharedDecoder) {
      decoder_ = context.sharedDecoder;  // registered once, by the model
    } else {
      decoder_ = register_module("decoder", nn::TransformerDecoder(decoderOptions(context.config.encoder, decoderLayers)));
    }
  } else {
    pooler_ = register_module("pooler", torch::nn::Linear(dModel, dModel));
  }
  out_ = register_module("out", torch::nn::Linear(dModel, outputs));
}

at::Tensor PooledHeadImpl::forward(const Encoded& encoded, const data::Batch&) {
  const at::Tensor& memory = encoded.memory;
  at::Tensor pooled;
  if (decoder_) {
    nn::DecoderMasks masks;
    masks.memoryKeyPaddingMask = encoded.paddingMask;
    pooled = decoder_->forward(query_.expand({memory.size(0), 1, memory.size(2)}), memory, masks).squeeze(1);
  } else {
    const at::Tensor keep = encoded.paddingMask.logical_not().unsqueeze(-1).to(memory.scalar_type());
    const at::Tensor mean = (memory * keep).sum(1) / keep.sum(1).clamp_min(1);
    pooled = at::tanh(pooler_(mean));
  }
  return out_(pooled);
}

}  // namespace mtl::model
