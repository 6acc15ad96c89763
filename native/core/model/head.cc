#include "core/model/head.h"

#include <stdexcept>

namespace mtl::model {

Generated HeadImpl::generate(const Encoded&, const GenerateOptions&) { throw std::invalid_argument("generate needs a sequence task"); }

std::shared_ptr<HeadImpl> makeHead(const TaskConfig& task, const HeadContext& context) {
  return Registry<HeadEntry>::instance().at(task.kind).make(task.options, context);
}

const data::TargetLayout& targetLayoutOf(const std::string& kind) { return Registry<HeadEntry>::instance().at(kind).targets; }

bool generatesOf(const std::string& kind) { return Registry<HeadEntry>::instance().at(kind).capabilities.value("generates", false); }

int64_t decoderLayersOf(const TaskConfig& task) {
  // The heads that have decoder layers declare `decoderLayers` in their options (and defaults).
  const Options& defaults = Registry<HeadEntry>::instance().at(task.kind).defaults;
  return task.options.value("decoderLayers", defaults.value("decoderLayers", int64_t{0}));
}

nn::TransformerLayerOptions layerOptions(const EncoderConfig& encoder) {
  return nn::TransformerLayerOptions(encoder.dModel, encoder.nhead)
      .dimFeedforward(encoder.dimFeedforward)
      .dropout(encoder.dropout)
      .activation(nn::parseActivation(encoder.activation))
      .normFirst(encoder.normFirst)
      .layerNormEps(encoder.layerNormEps)
      .attentionDropout(encoder.attentionDropout < 0 ? c10::nullopt : c10::optional<double>(encoder.attentionDropout))
      .activationDropout(encoder.activationDropout < 0 ? c10::nullopt : c10::optional<double>(encoder.activationDropout));
}

nn::TransformerStackOptions decoderOptions(const EncoderConfig& encoder, int64_t numLayers) {
  return nn::TransformerStackOptions(layerOptions(encoder), numLayers);
}

at::Tensor crossEntropy(const at::Tensor& logits, const at::Tensor& targets, const CrossEntropyOptions& options) {
  const int64_t classes = logits.size(-1);
  return at::cross_entropy_loss(logits.reshape({-1, classes}), targets.reshape({-1}).to(at::kLong), {}, at::Reduction::Mean,
                                options.ignoreIndex, options.labelSmoothing);
}

}  // namespace mtl::model
