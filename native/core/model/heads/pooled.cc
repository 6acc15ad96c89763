#include "core/model/heads/pooled.h"

#include <torch/nn/init.h>

#include <stdexcept>

namespace mtl::model {

PooledHeadImpl::PooledHeadImpl(int64_t outputs, int64_t decoderLayers, const std::string& pooling, const HeadContext& context) {
  const int64_t dModel = context.config.encoder.dModel;
  if (pooling == "pretrained") {
    // The schema refuses these combinations first; the checks guard C++ callers.
    if (decoderLayers > 0) throw std::invalid_argument("pooling 'pretrained' pools the first position: it takes decoderLayers 0");
    if (!context.pooler)
      throw std::invalid_argument("pooling 'pretrained' needs an encoder with a pooler (a BERT or RoBERTa checkpoint's)");
    sharedPooler_ = context.pooler;  // registered once, by the model
    dropout_ = register_module("dropout", torch::nn::Dropout(torch::nn::DropoutOptions(context.config.encoder.dropout)));
  } else if (decoderLayers > 0) {
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
  if (sharedPooler_) {
    pooled = dropout_(at::tanh(sharedPooler_->forward(memory.select(1, 0))));
  } else if (decoder_) {
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
