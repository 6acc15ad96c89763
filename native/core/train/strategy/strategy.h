// Training strategies: which tasks each optimizer step trains, with how many examples each and
// what loss scale. Each strategy is one file in this folder that registers itself (registry.h):
//   joint         every task, every step: one backward of Σ λᵢLᵢ; with a sampler, the step's
//                 K·batchSize examples are shared out by the sampler's distribution
//   alternating   one task per step (every: 'step') or per epoch (every: 'epoch'), drawn by the
//                 sampler (proportional unless one is given)
//   progressive   the main task alone for warmupSteps, then the auxiliary tasks join with their
//                 losses scaled from 0 up to their full weight over rampSteps
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/train/sampler/sampler.h"
#include "core/train/state.h"

namespace mtl::train {

struct StrategyCapabilities {
  // Every task is trained in every step (weightings that compare tasks need this).
  bool everyTaskEachStep = false;
  // How the strategy uses a task sampler: "none" (a sampler would do nothing: refused),
  // "optional" (acts when one is given), "required" (`defaultSampler` when none is given).
  std::string sampler = "none";
  std::string defaultSampler;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StrategyCapabilities, everyTaskEachStep, sampler, defaultSampler)

struct StepPlan {
  std::vector<int64_t> tasks;  // indices into the task list
  std::vector<double> scales;  // multiplies each task's loss (progressive ramp); 1 otherwise
  std::vector<int64_t> rows;   // examples of each task in this step
};

// What a strategy plans over: the tasks (in order), their data set sizes, the batch size, and
// the sampler (null when the strategy's capability says "none", or "optional" and none was given).
struct PlanSetup {
  std::vector<std::string> taskNames;
  std::vector<int64_t> sizes;
  int64_t batchSize = 0;
  TaskSampler* sampler = nullptr;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Optimizer steps in one epoch.
  virtual int64_t stepsPerEpoch() const = 0;
  // The plan of optimizer step `step` (0-based). Called once per step, in order.
  virtual StepPlan plan(int64_t step) = 0;
  virtual void saveState(State& state, const std::string& prefix) const {}
  virtual void loadState(const State& state, const std::string& prefix) {}
};

inline constexpr char kStrategyConcept[] = "strategy";
using StrategyEntry = KindEntry<kStrategyConcept, std::unique_ptr<Strategy>, PlanSetup>;
template <typename KindOptions>
using RegisterStrategy = Register<StrategyEntry, KindOptions>;

StrategyCapabilities strategyCapabilities(const Options& options);
std::unique_ptr<Strategy> makeStrategy(const Options& options, const PlanSetup& setup);

// Batches of `rows` examples per pass over `size` examples (the last one shorter).
inline int64_t batchesPerPass(int64_t size, int64_t rows) { return (size + rows - 1) / rows; }

}  // namespace mtl::train
