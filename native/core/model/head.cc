#include "core/model/head.h"

#include <stdexcept>

namespace mtl::model {

Generated HeadImpl::generate(const Encoded&, const GenerateOptions&) {
  throw std::invalid_argument("generate needs a sequence task");
}

std::shared_ptr<HeadImpl> makeHead(const HeadConfig& head, const HeadContext& context) {
  switch (head.kind) {
    case HeadKind::Classification: return makeClassificationHead(head, context);
    case HeadKind::Regression: return makeRegressionHead(head, context);
    case HeadKind::MultiLabel: return makeMultiLabelHead(head, context);
    case HeadKind::Tagging: return makeTaggingHead(head, context);
    case HeadKind::Sequence: return makeSequenceHead(head, context);
  }
  throw std::invalid_argument("unknown head kind");
}

nn::TransformerLayerOptions layerOptions(const EncoderConfig& encoder) {
  return nn::TransformerLayerOptions(encoder.dModel, encoder.nhead)
      .dimFeedforward(encoder.dimFeedforward)
      .dropout(encoder.dropout)
      .activation(nn::parseActivation(encoder.activation))
      .normFirst(encoder.normFirst);
}

nn::TransformerStackOptions decoderOptions(const EncoderConfig& encoder, int64_t numLayers) {
  return nn::TransformerStackOptions(layerOptions(encoder), numLayers);
}

at::Tensor crossEntropy(const at::Tensor& logits, const at::Tensor& targets, const HeadConfig& head) {
  const int64_t classes = logits.size(-1);
  return at::cross_entropy_loss(logits.reshape({-1, classes}), targets.reshape({-1}).to(at::kLong), {},
                                at::Reduction::Mean, head.ignoreIndex, head.labelSmoothing);
}

}  // namespace mtl::model
