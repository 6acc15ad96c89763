// The body shared by the heads that give one output vector per example (classification,
// regression, multi-label): a learned query attends over the encoder output through the task's
// decoder layers (decoderLayers > 0), or, with decoderLayers 0, a masked mean over the real
// positions goes through a tanh MLP (pooling "mean"), or (pooling "pretrained") the first position's
// state goes through the encoder's pretrained pooler (BERT's: tanh(pooler(h[:, 0])), shared by the
// heads that use it) and dropout, as BERT's sequence classifier. Then `out` projects to the
// task's outputs. Parameters: query (1, 1, E), decoder.layers.N.*, or pooler.{weight,bias}
// (mean); out.{weight,bias}.
#pragma once
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <string>

#include "core/model/head.h"

namespace mtl::model {

class PooledHeadImpl : public HeadImpl {
 public:
  // pooling: "mean" or "pretrained" (decoderLayers 0 only; the model must have encoder.pooler).
  PooledHeadImpl(int64_t outputs, int64_t decoderLayers, const std::string& pooling, const HeadContext& context);
  // (B, outputs)
  at::Tensor forward(const Encoded& encoded, const data::Batch& batch) override;

 private:
  at::Tensor query_;
  std::shared_ptr<nn::TransformerDecoderImpl> decoder_;
  torch::nn::Linear pooler_{nullptr};
  std::shared_ptr<torch::nn::LinearImpl> sharedPooler_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear out_{nullptr};
};

}  // namespace mtl::model
