// Training strategies: which tasks each optimizer step trains, and with what ramp.
//   joint                  every task, every step: one backward of Σ λᵢLᵢ
//   alternating(step)      one task per step, drawn by the task sampler
//   alternating(epoch)     one task for a whole epoch, drawn by the sampler at the epoch's start
//   progressive            the main task alone for warmupSteps, then the auxiliary tasks join with
//                          their losses scaled by min(1, (s − warmupSteps)/rampSteps), from 0 up
//                          to their full weight (a task whose scale is 0 is not run)
// Epoch length, in optimizer steps, with Bᵢ = ⌈Nᵢ / batchSize⌉ batches in task i's data set:
//   alternating(step): Σᵢ Bᵢ (each example seen once per epoch in expectation);
//   every other strategy: maxᵢ Bᵢ (the largest data set seen once; smaller ones wrap around).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/train/sampler/sampler.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {

struct StrategyConfig {
  std::string kind = "joint";  // joint | alternating | progressive
  std::string every = "step";  // alternating: step | epoch
  std::string main;            // progressive: the main task
  int64_t warmupSteps = 0;     // progressive
  int64_t rampSteps = 0;       // progressive
};

struct StepPlan {
  std::vector<int64_t> tasks;  // indices into the task list
  std::vector<double> scales;  // multiplies each task's loss (progressive ramp); 1 otherwise
};

class Strategy {
 public:
  // Throws std::invalid_argument when the config is bad, and when the weighting cannot work with
  // it (saying why).
  Strategy(StrategyConfig config, std::vector<std::string> taskNames, const LossWeighting& weighting);

  int64_t stepsPerEpoch(const std::vector<int64_t>& batchesPerPass) const;
  // `epochTask` is the task of the current epoch (alternating every epoch), else ignored.
  StepPlan plan(int64_t step, TaskSampler& sampler, int64_t epochTask) const;
  bool picksTaskPerEpoch() const { return config_.kind == "alternating" && config_.every == "epoch"; }

 private:
  StrategyConfig config_;
  std::vector<std::string> taskNames_;
  int64_t mainTask_ = -1;
};

}  // namespace mtl::train
