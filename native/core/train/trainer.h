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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/train/checkpoint.h"
#include "core/train/evaluation.h"
#include "core/train/gradient_sync.h"
#include "core/train/options.h"
#include "core/train/step.h"

namespace mtl::train {

// The checkpoint entry of a data-parallel run's CPU generators, one row per rank.
inline constexpr const char* kRankGenerators = "rng.cpu.ranks";

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
  int threads = 0;                  // intra-op threads of the training thread
  double communicationSeconds = 0;  // step: seconds per step spent in data-parallel collectives (0 in one process)
  Metrics metrics;
  std::string message;                         // checkpoint, best: the file; skipped: why
  double value = 0;                            // best: the metric's value
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
  // `sync` null: a single process. With a data-parallel sync (core/distributed/data_parallel.h)
  // batchSize is per rank, fit and evaluate read each rank's part of the data, rank 0 writes the
  // files, and an error on one rank aborts the group so that the others fail naming it.
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
  FitResult runFit(const Datasets& trainSets, const Datasets& evalSets, const FitSettings& settings, const EventSink& onEvent,
                   const std::atomic<bool>& abortRequested);
  // Runs `body`; an exception it throws aborts the process group first (data parallel).
  template <typename Body>
  auto failingTogether(Body&& body) -> decltype(body());
  // Whether `flag` is true on some rank (every rank gets the same answer).
  bool anyRank(bool flag);
  // Every rank's weights become rank 0's (the start of data-parallel training, as DDP does).
  void shareWeights();
  StepReport stepOnce(const std::map<std::string, data::Batch>& batches);
  Checkpoint capture() const;
  // The state of the trainer itself (model, optimizer, weighting, scaler, step, RNG), all or nothing.
  void restore(const Checkpoint& checkpoint);
  void apply(const Checkpoint& checkpoint);

  std::shared_ptr<TrainableModel> model_;
  TrainerOptions options_;
  std::shared_ptr<GradientSync> sync_;
  std::unique_ptr<StepRunner> runner_;
  int64_t step_ = 0;
  Checkpoint pending_;          // loaded by loadCheckpoint, restored by the next fit
  bool weightsShared_ = false;  // data parallel: rank 0's weights were broadcast
};

}  // namespace mtl::train
