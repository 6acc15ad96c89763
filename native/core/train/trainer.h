// The native trainer: the façade the binding drives. Its parts are separate units:
//   step.h          one optimizer step (weighting, backward, fp16 scaler, clipping, optimizer)
//   fit_loop.cc     the fit loop (epochs, events, evaluation, early stopping, checkpoints)
//   evaluation.h    evaluation through the heads' evaluators
//   data_streams.h  the batches of a fit
//   checkpoint.h    the checkpoint file and what it must hold
//   gradient_sync.h the data-parallel seam
// A binding runs fit() on a worker thread and receives events through the callback; grad mode
// and autocast are thread-local, so the step sets them itself.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "core/train/checkpoint.h"
#include "core/train/evaluation.h"
#include "core/train/gradient_sync.h"
#include "core/train/options.h"
#include "core/train/step.h"

namespace mtl::train {

struct ProgressEvent {
  std::string kind;  // step | epoch | eval | checkpoint | best | skipped
  int64_t step = 0;
  int64_t epoch = 0;
  std::map<std::string, double> losses;
  std::map<std::string, double> lambdas;
  std::map<std::string, int64_t> examples;  // step: rows of each task
  double learningRate = 0;
  double stepsPerSecond = 0;
  double examplesPerSecond = 0;
  int threads = 0;  // intra-op threads of the training thread
  Metrics metrics;
  std::string message;                       // checkpoint, best: the file; skipped: why
  double value = 0;                          // best: the metric's value
  std::optional<TaskDiagnostics> diagnostics;  // step, when measured
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

using EventSink = std::function<void(const ProgressEvent&)>;

class Trainer {
 public:
  // `sync` null: a single process.
  Trainer(std::shared_ptr<TrainableModel> model, TrainerOptions options, std::shared_ptr<GradientSync> sync = nullptr);
  ~Trainer();

  FitResult fit(const Datasets& trainSets, const Datasets& evalSets, const FitSettings& settings, const EventSink& onEvent,
                const std::atomic<bool>& abortRequested);
  // One optimizer step on the given batches (task → batch), for a loop written by the user.
  StepReport step(const std::map<std::string, data::Batch>& batches);
  Metrics evaluate(const Datasets& evalSets);

  // The training state (model, optimizer, weighting, scaler, step, RNG).
  void saveCheckpoint(const std::string& path);
  // Restored (after checking it against the run) when the next fit starts.
  void loadCheckpoint(const std::string& path);

  int64_t stepsDone() const { return step_; }
  const LossWeighting& weighting() const { return runner_->weighting(); }

 private:
  Checkpoint capture() const;
  // The state of the trainer itself (model, optimizer, weighting, scaler, step, RNG), all or nothing.
  void restore(const Checkpoint& checkpoint);
  void apply(const Checkpoint& checkpoint);

  std::shared_ptr<TrainableModel> model_;
  TrainerOptions options_;
  std::shared_ptr<GradientSync> sync_;
  std::unique_ptr<StepRunner> runner_;
  int64_t step_ = 0;
  Checkpoint pending_;  // loaded by loadCheckpoint, restored by the next fit
};

}  // namespace mtl::train
