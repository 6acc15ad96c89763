// The body shared by the heads that give one output vector per example (classification,
// regression, multi-label): a learned query attends over the encoder output through the task's
// decoder layers (decoderLayers > 0), or, with decoderLayers 0, a masked mean over the real
// positions goes through a tanh MLP (BERT's pooler). Then `out` projects to the task's outputs.
// Parameters: query (1, 1, E), decoder.layers.N.*, or pooler.{weight,bias}; out.{weight,bias}.
#pragma once
#include <torch/nn/modules/linear.h>

#include "core/model/head.h"

namespace mtl::model {

class PooledHeadImpl : public HeadImpl {
 public:
  PooledHeadImpl(int64_t outputs, int64_t decoderLayers, const HeadContext& context);
  // (B, outputs)
  at::Tensor forward(const Encoded& encoded, const data::Batch& batch) override;

 private:
  at::Tensor query_;
  std::shared_ptr<nn::TransformerDecoderImpl> decoder_;
  torch::nn::Linear pooler_{nullptr};
  torch::nn::Linear out_{nullptr};
};

}  // namespace mtl::model
