// One optimizer step: the forward of the step's tasks (per micro-batch), the weighting's
// combination (with per-task gradients for the methods that need them), backward, the
// data-parallel reduction, fp16 unscaling, clipping, the schedule and the optimizer. The fit loop
// and Trainer::step drive it; it owns the optimizer, the weighting and the loss scaler.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/train/diagnostics.h"
#include "core/train/gradient_sync.h"
#include "core/train/loss_scaler.h"
#include "core/train/optimizer.h"
#include "core/train/options.h"
#include "core/train/schedule.h"
#include "core/train/strategy/strategy.h"
#include "core/train/trainable_model.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {

struct StepReport {
  std::map<std::string, double> losses;
  std::map<std::string, double> lambdas;
  std::map<std::string, int64_t> examples;  // rows of each task this step (all micro-batches)
  double learningRate = 0;
  bool skipped = false;
  std::string skippedReason;
  std::optional<TaskDiagnostics> diagnostics;  // when asked for this step
};

// A NaN/Inf loss, naming the step and the task.
struct NonFiniteLossError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The batches of one micro-batch for the plan (task name → batch).
using BatchSource = std::function<std::map<std::string, data::Batch>(const StepPlan& plan)>;

class StepRunner {
 public:
  StepRunner(TrainableModel& model, const TrainerOptions& options, GradientSync& sync);

  // The tasks whose weighting state the runner keeps (in the model's order); a new list gives the
  // weighting a fresh state.
  void setTasks(const std::vector<std::string>& tasks);
  const std::vector<std::string>& tasks() const { return tasks_; }

  // Optimizer step number `step` (0-based) of a run of `totalSteps`, in epoch `epoch`; with
  // `diagnose`, the task diagnostics of the step's first batches are measured before the update.
  StepReport run(const StepPlan& plan, const BatchSource& nextBatches, int64_t step, int64_t epoch, int64_t totalSteps,
                 bool diagnose = false);

  const LossWeighting& weighting() const { return *weighting_; }
  const std::string& optimizerKind() const { return optimizer_.kind; }
  std::string parameterGroups() const { return describeParameterGroups(optimizer_); }
  void saveState(State& state) const;  // optimizer., weighting., scaler. entries
  void loadState(const State& state);

 private:
  // The loss of each of the plan's tasks (float; 0 for a task without rows on this rank).
  std::vector<at::Tensor> planLosses(const std::map<std::string, at::Tensor>& taskLosses, const StepPlan& plan) const;
  // The plan's tasks' loss values of one micro-batch, averaged over ranks (a rank's loss weighted
  // by its rows of the task). With `rebalance`, raw[i] is scaled so that its gradient, averaged
  // over ranks, is the global one too.
  at::Tensor globalLossValues(std::vector<at::Tensor>& raw, const std::map<std::string, int64_t>& rows, const StepPlan& plan,
                              bool rebalance);

  TrainableModel& model_;
  const TrainerOptions& options_;
  GradientSync& sync_;
  Schedule schedule_;
  BuiltOptimizer optimizer_;
  LossScaler scaler_;
  std::vector<std::string> tasks_;
  std::unique_ptr<LossWeighting> weighting_;
  std::vector<at::Tensor> allParameters_, sharedParameters_, lastSharedParameters_, taskSpecificParameters_;
};

}  // namespace mtl::train
