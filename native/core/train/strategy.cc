#include "core/train/strategy.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace mtl::train {

Strategy::Strategy(StrategyConfig config, std::vector<std::string> taskNames, const LossWeighting& weighting)
    : config_(std::move(config)), taskNames_(std::move(taskNames)) {
  const std::string& kind = config_.kind;
  if (kind == "alternating") {
    if (config_.every != "step" && config_.every != "epoch") {
      throw std::invalid_argument("strategy.alternating: 'every' must be 'step' or 'epoch'");
    }
    if (weighting.needsAllTasksEachStep() && taskNames_.size() > 1) {
      throw std::invalid_argument("weighting." + weighting.name() +
                                  " cannot be used with strategy.alternating: it compares or tracks every task's loss "
                                  "or gradient in each step, and an alternating step trains one task");
    }
  } else if (kind == "progressive") {
    auto it = std::find(taskNames_.begin(), taskNames_.end(), config_.main);
    if (it == taskNames_.end()) throw std::invalid_argument("strategy.progressive: 'main' must name a trained task, got '" + config_.main + "'");
    mainTask_ = it - taskNames_.begin();
    if (config_.warmupSteps < 0) throw std::invalid_argument("strategy.progressive: 'warmupSteps' must be >= 0");
    if (config_.rampSteps < 0) throw std::invalid_argument("strategy.progressive: 'rampSteps' must be >= 0");
    if (weighting.needsAllTasksEachStep()) {
      throw std::invalid_argument("weighting." + weighting.name() +
                                  " cannot be used with strategy.progressive: it needs every task in every step and "
                                  "would renormalize away the auxiliary tasks' ramp");
    }
  } else if (kind != "joint") {
    throw std::invalid_argument("strategy: unknown kind '" + kind + "'");
  }
}

int64_t Strategy::stepsPerEpoch(const std::vector<int64_t>& batchesPerPass) const {
  if (config_.kind == "alternating" && config_.every == "step") {
    return std::accumulate(batchesPerPass.begin(), batchesPerPass.end(), int64_t{0});
  }
  return *std::max_element(batchesPerPass.begin(), batchesPerPass.end());
}

StepPlan Strategy::plan(int64_t step, TaskSampler& sampler, int64_t epochTask) const {
  StepPlan plan;
  const int64_t k = static_cast<int64_t>(taskNames_.size());
  if (config_.kind == "joint") {
    for (int64_t i = 0; i < k; ++i) plan.tasks.push_back(i), plan.scales.push_back(1.0);
  } else if (config_.kind == "alternating") {
    plan.tasks.push_back(config_.every == "epoch" ? epochTask : sampler.next());
    plan.scales.push_back(1.0);
  } else {  // progressive
    const double ramp = step < config_.warmupSteps ? 0.0
                        : config_.rampSteps == 0   ? 1.0
                                                   : std::min(1.0, static_cast<double>(step - config_.warmupSteps) /
                                                                       static_cast<double>(config_.rampSteps));
    for (int64_t i = 0; i < k; ++i) {
      const double scale = i == mainTask_ ? 1.0 : ramp;
      if (scale > 0) plan.tasks.push_back(i), plan.scales.push_back(scale);
    }
  }
  return plan;
}

}  // namespace mtl::train
