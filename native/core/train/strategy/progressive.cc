// progressive({ main, warmupSteps, rampSteps }): the main task alone for warmupSteps, then the
// auxiliary tasks join with their losses scaled by min(1, (s − warmupSteps)/rampSteps), from 0 up
// to their full weight (a task whose scale is 0 is not run). Each task gets batchSize examples.
// An epoch is maxᵢ ⌈Nᵢ / B⌉ steps.
#include <algorithm>

#include "core/train/strategy/strategy.h"

namespace mtl::train {
namespace {

struct ProgressiveOptions {
  std::string main;
  int64_t warmupSteps = 0;
  int64_t rampSteps = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ProgressiveOptions, main, warmupSteps, rampSteps)

class Progressive : public Strategy {
 public:
  Progressive(const ProgressiveOptions& options, const PlanSetup& setup) : options_(options), batchSize_(setup.batchSize) {
    const auto& names = setup.taskNames;
    auto it = std::find(names.begin(), names.end(), options.main);
    if (it == names.end()) throw std::invalid_argument("strategy.progressive: 'main' must name a trained task, got '" + options.main + "'");
    mainTask_ = it - names.begin();
    tasks_ = static_cast<int64_t>(names.size());
    for (int64_t size : setup.sizes) stepsPerEpoch_ = std::max(stepsPerEpoch_, batchesPerPass(size, batchSize_));
  }
  int64_t stepsPerEpoch() const override { return stepsPerEpoch_; }
  StepPlan plan(int64_t step) override {
    const double ramp = step < options_.warmupSteps ? 0.0
                        : options_.rampSteps == 0
                            ? 1.0
                            : std::min(1.0, static_cast<double>(step - options_.warmupSteps) / static_cast<double>(options_.rampSteps));
    StepPlan plan;
    for (int64_t i = 0; i < tasks_; ++i) {
      const double scale = i == mainTask_ ? 1.0 : ramp;
      if (scale > 0) plan.tasks.push_back(i), plan.scales.push_back(scale), plan.rows.push_back(batchSize_);
    }
    return plan;
  }

 private:
  ProgressiveOptions options_;
  int64_t batchSize_;
  int64_t mainTask_ = 0;
  int64_t tasks_ = 0;
  int64_t stepsPerEpoch_ = 1;
};

const RegisterStrategy<ProgressiveOptions> registered("progressive", StrategyCapabilities{false, "none", ""},
                                                      [](const ProgressiveOptions& options, const PlanSetup& setup) {
                                                        return std::make_unique<Progressive>(options, setup);
                                                      });

}  // namespace
}  // namespace mtl::train
