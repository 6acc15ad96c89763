// alternating({ every }): one task per step ('step'), drawn by the sampler each step, or one task
// for a whole epoch ('epoch'), drawn at the epoch's start. An epoch is Σᵢ ⌈Nᵢ / B⌉ steps with
// 'step' (each example seen once per epoch in expectation), maxᵢ ⌈Nᵢ / B⌉ with 'epoch'.
#include <algorithm>

#include "core/train/strategy/strategy.h"

namespace mtl::train {
namespace {

struct AlternatingOptions {
  std::string every = "step";  // step | epoch
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AlternatingOptions, every)

class Alternating : public Strategy {
 public:
  Alternating(const AlternatingOptions& options, const PlanSetup& setup)
      : perEpoch_(options.every == "epoch"),
        batchSize_(setup.batchSize),
        sampler_(setup.sampler),
        tasks_(static_cast<int64_t>(setup.sizes.size())) {
    for (int64_t size : setup.sizes) {
      const int64_t batches = batchesPerPass(size, batchSize_);
      stepsPerEpoch_ = perEpoch_ ? std::max(stepsPerEpoch_, batches) : stepsPerEpoch_ + batches;
    }
  }
  int64_t stepsPerEpoch() const override { return stepsPerEpoch_; }
  StepPlan plan(int64_t step) override {
    if (!perEpoch_) {
      epochTask_ = sampler_->next();
    } else if (step % stepsPerEpoch_ == 0) {
      epochTask_ = sampler_->next();
    }
    return {{epochTask_}, {1.0}, {batchSize_}};
  }
  void saveState(State& state, const std::string& prefix) const override { putInt(state, prefix + "epoch_task", epochTask_); }
  // The task index must name one of this run's tasks: the next batch is drawn for it.
  void loadState(const State& state, const std::string& prefix) override {
    epochTask_ = getIntIn(state, prefix + "epoch_task", 0, tasks_ - 1);
  }

 private:
  bool perEpoch_;
  int64_t batchSize_;
  TaskSampler* sampler_;
  int64_t tasks_;
  int64_t stepsPerEpoch_ = 0;
  int64_t epochTask_ = 0;
};

const RegisterStrategy<AlternatingOptions> registered("alternating", StrategyCapabilities{false, "required", "proportional"},
                                                      [](const AlternatingOptions& options, const PlanSetup& setup) {
                                                        return std::make_unique<Alternating>(options, setup);
                                                      });

}  // namespace
}  // namespace mtl::train
