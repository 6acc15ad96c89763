// The native training loop. Everything per batch happens here: drawing batches, forward, the
// weighting's combination, backward, gradient reduction, clipping, the schedule and the optimizer
// step, evaluation, checkpoints. A binding runs fit() on a worker thread and receives events
// through the callback; grad mode and autocast are thread-local, so fit() sets them itself.
#pragma once
#include <atomic>
#include <stdexcept>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/train/optimizer.h"
#include "core/train/sampler/sampler.h"
#include "core/train/schedule.h"
#include "core/train/strategy.h"
#include "core/train/trainable_model.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {

struct TrainerOptions {
  StrategyConfig strategy;
  WeightingConfig weighting;
  SamplerConfig sampler;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  int64_t batchSize = 32;
  int64_t evalBatchSize = 0;      // 0: batchSize
  double clipGradNorm = 0;        // 0: no clipping (global L2 norm over all model parameters)
  int64_t accumulateSteps = 1;    // micro-batches per optimizer step
  std::string precision = "fp32"; // fp32 | bf16 | fp16
  uint64_t seed = 0;
  bool skipNonFinite = false;     // a NaN/Inf loss skips the step instead of stopping the run
};

struct EarlyStopping {
  std::string metric;  // "task.metric", e.g. "sst2.accuracy", or "loss" (mean of task eval losses)
  int64_t patience = 3;
  std::string mode = "max";  // max | min
  double minDelta = 0;
};

using Datasets = std::map<std::string, std::shared_ptr<const data::Dataset>>;
using Metrics = std::map<std::string, std::map<std::string, double>>;  // task → metric → value

struct FitOptions {
  int64_t epochs = 0;  // exactly one of epochs, steps is > 0
  int64_t steps = 0;
  Datasets evalSets;
  int64_t evalEvery = 0;  // steps between evaluations; 0: at the end of every epoch
  std::string checkpointDir;
  int64_t checkpointEvery = 0;  // steps; 0: at the end of the run only (when checkpointDir is set)
  std::string resumeFrom;       // a checkpoint file to continue from
  int64_t progressEvery = 1;    // steps between "step" events
  bool hasEarlyStopping = false;
  EarlyStopping earlyStopping;
};

struct ProgressEvent {
  std::string kind;  // step | epoch | eval | checkpoint | skipped
  int64_t step = 0;
  int64_t epoch = 0;
  std::map<std::string, double> losses;
  std::map<std::string, double> lambdas;
  double learningRate = 0;
  double stepsPerSecond = 0;
  double examplesPerSecond = 0;
  int threads = 0;  // intra-op threads of the training thread
  Metrics metrics;
  std::string message;
};

struct FitResult {
  int64_t steps = 0;   // optimizer steps done in total (a resumed run counts the earlier ones)
  int64_t epochs = 0;  // epochs begun
  bool aborted = false;
  bool stoppedEarly = false;
  std::vector<ProgressEvent> epochEvents;
  std::vector<ProgressEvent> evalEvents;
  std::vector<std::string> checkpoints;
};

struct StepReport {
  std::map<std::string, double> losses;
  std::map<std::string, double> lambdas;
  double learningRate = 0;
  bool skipped = false;
  std::string skippedReason;
};

// A NaN/Inf loss, naming the step and the task.
struct NonFiniteLossError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Trainer {
 public:
  Trainer(std::shared_ptr<TrainableModel> model, TrainerOptions options);
  ~Trainer();

  FitResult fit(const Datasets& trainSets, const FitOptions& options, const std::function<void(const ProgressEvent&)>& onEvent,
                const std::atomic<bool>& abortRequested);
  // One optimizer step on the given batches (task → batch), for a loop written by the user.
  StepReport step(const std::map<std::string, data::Batch>& batches);
  Metrics evaluate(const Datasets& evalSets);

  void saveCheckpoint(const std::string& path);
  void loadCheckpoint(const std::string& path);

  int64_t stepsDone() const { return step_; }
  const LossWeighting* weighting() const { return weighting_.get(); }
  const std::vector<std::string>& taskNames() const { return taskNames_; }

 private:
  struct TaskStream;
  void prepare(const std::vector<std::string>& tasks);
  // The batches of one micro-batch for the plan's tasks (task name → batch).
  using BatchSource = std::function<std::map<std::string, data::Batch>(const std::vector<int64_t>& tasks)>;
  StepReport runStep(const StepPlan& plan, const BatchSource& nextBatches);
  std::map<std::string, data::Batch> drawBatches(const std::vector<int64_t>& tasks);
  void reduceGradients();
  State captureState() const;
  void restoreState(const State& state);

  std::shared_ptr<TrainableModel> model_;
  TrainerOptions options_;
  std::vector<std::string> taskNames_;  // the tasks being trained, in the model's order
  std::unique_ptr<LossWeighting> weighting_;
  std::unique_ptr<TaskSampler> sampler_;
  std::unique_ptr<Strategy> strategy_;
  BuiltOptimizer optimizer_;
  std::vector<at::Tensor> allParameters_, sharedParameters_, lastSharedParameters_, taskSpecificParameters_;
  // One per task being fitted; tasks whose data sets share inputs (Dataset::withTargets) share
  // one stream, so they read the same rows each step and the model encodes them once.
  std::vector<std::shared_ptr<TaskStream>> streams_;
  std::vector<std::shared_ptr<const data::Dataset>> taskDatasets_;
  int64_t step_ = 0;
  int64_t epochTask_ = 0;
  int64_t totalSteps_ = 0;
  int64_t stepsPerEpoch_ = 1;
  double lossScale_ = 1.0;        // fp16 dynamic loss scaling
  int64_t stepsSinceScaleGrowth_ = 0;
  State pendingRestore_;          // a checkpoint loaded before the streams exist
};

}  // namespace mtl::train
