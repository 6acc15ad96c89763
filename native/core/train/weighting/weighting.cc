#include "core/train/weighting/weighting.h"

namespace mtl::train {

at::Tensor weightedSum(const std::vector<at::Tensor>& losses, const std::vector<double>& lambdas) {
  at::Tensor total;
  for (size_t i = 0; i < losses.size(); ++i) {
    at::Tensor term = losses[i] * lambdas[i];
    total = total.defined() ? total + term : term;
  }
  return total;
}

std::unique_ptr<LossWeighting> makeWeighting(const Options& options, const WeightingContext& context) {
  const std::string kind = options.at("kind").get<std::string>();
  const WeightingEntry& entry = Registry<WeightingEntry>::instance().at(kind);
  std::unique_ptr<LossWeighting> method = entry.make(options, context);
  method->name_ = kind;
  method->capabilities_ = entry.capabilities.get<WeightingCapabilities>();
  return method;
}

}  // namespace mtl::train
