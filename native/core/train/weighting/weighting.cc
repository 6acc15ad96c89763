#include "core/train/weighting/weighting.h"

#include <stdexcept>

#include "core/train/optimizer.h"
#include "core/train/weighting/methods.h"

namespace mtl::train {

at::Tensor weightedSum(const std::vector<at::Tensor>& losses, const std::vector<double>& lambdas) {
  at::Tensor total;
  for (size_t i = 0; i < losses.size(); ++i) {
    at::Tensor term = losses[i] * lambdas[i];
    total = total.defined() ? total + term : term;
  }
  return total;
}

std::unique_ptr<LossWeighting> makeWeighting(const WeightingConfig& config, const std::vector<std::string>& taskNames) {
  using Factory = std::unique_ptr<LossWeighting> (*)(const WeightingConfig&, const weighting::Names&);
  static const std::map<std::string, Factory> factories = {
      {"equal", weighting::makeEqual},         {"fixed", weighting::makeFixed},
      {"sigmoidLoss", weighting::makeSigmoidLoss}, {"uncertainty", weighting::makeUncertainty},
      {"dwa", weighting::makeDwa},             {"gradNorm", weighting::makeGradNorm},
      {"pcgrad", weighting::makePcgrad},       {"cagrad", weighting::makeCagrad},
      {"famo", weighting::makeFamo},           {"nashMtl", weighting::makeNashMtl},
  };
  auto it = factories.find(config.method);
  if (it == factories.end()) throw std::invalid_argument("weighting: unknown method '" + config.method + "'");
  if (taskNames.empty()) throw std::invalid_argument("weighting: there are no tasks to weight");
  return it->second(config, taskNames);
}

namespace weighting {

OwnAdam::OwnAdam(at::Tensor parameter, double lr, double weightDecay) : parameter_(std::move(parameter)) {
  if (!(lr > 0)) throw std::invalid_argument("weighting: 'lr' must be positive");
  adam_ = std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{parameter_},
                                               torch::optim::AdamOptions(lr).weight_decay(weightDecay));
}

OwnAdam::~OwnAdam() = default;

void OwnAdam::step(const at::Tensor& gradient) {
  parameter_.mutable_grad() = gradient.detach().clone();
  adam_->step();
  parameter_.mutable_grad() = at::Tensor();  // the next backward starts from nothing
}

void OwnAdam::saveState(State& state, const std::string& prefix) const { saveOptimizerState(*adam_, state, prefix); }
void OwnAdam::loadState(const State& state, const std::string& prefix) { loadOptimizerState(*adam_, state, prefix); }

}  // namespace weighting
}  // namespace mtl::train
