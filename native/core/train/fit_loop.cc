// The fit loop: steps until the budget (epochs or steps) is done, the caller aborts, or early
// stopping says so; it emits step/epoch/eval/checkpoint events, evaluates every `evalEvery` steps
// (or each epoch) and writes checkpoints that resume bit for bit. The step itself is StepRunner's.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/model/head.h"
#include "core/runtime.h"
#include "core/train/data_streams.h"
#include "core/train/trainer.h"

namespace mtl::train {

namespace {

constexpr const char* kEarlyStoppingPrefix = "loop.early_stopping.";
constexpr const char* kKeepBestPrefix = "loop.keep_best.";

// The value of an evaluation metric ("task.metric", or "loss": the mean of the tasks' losses) and
// whether a new value improves on the best so far, in the metric's own direction (its head's
// capabilities; losses fall) unless `mode` says otherwise.
class MetricTracker {
 public:
  MetricTracker(std::string metric, const std::string& mode, TrainableModel& model) : metric_(std::move(metric)) {
    minimize_ = mode.empty() ? direction(model) == "min" : mode == "min";
  }

  // True when `metrics` improve on the best value so far (by more than minDelta); then it is the best.
  bool improves(const Metrics& metrics, double minDelta = 0) {
    value_ = valueOf(metrics);
    const bool better = !haveBest_ || (minimize_ ? value_ < best_ - minDelta : value_ > best_ + minDelta);
    if (better) best_ = value_, haveBest_ = true;
    return better;
  }
  double value() const { return value_; }

  // The best value so far travels in checkpoints, so that a resumed run keeps (or stops on) the
  // same best as the run it continues. A checkpoint without it had no tracker: start afresh.
  void saveState(State& state, const std::string& prefix) const {
    putInt(state, prefix + "have_best", haveBest_ ? 1 : 0);
    putDouble(state, prefix + "best", best_);
  }
  void loadState(const State& state, const std::string& prefix) {
    if (!hasKey(state, prefix + "have_best")) return;
    const bool haveBest = getIntIn(state, prefix + "have_best", 0, 1) != 0;
    const double best = getDouble(state, prefix + "best");
    if (!std::isfinite(best)) throw std::invalid_argument("checkpoint: '" + prefix + "best' must be finite");
    haveBest_ = haveBest, best_ = best;
  }

 private:
  std::string direction(TrainableModel& model) const {
    const auto dot = metric_.find('.');
    if (dot == std::string::npos || metric_.substr(dot + 1) == "loss") return "min";
    const auto& capabilities = Registry<model::HeadEntry>::instance().at(model.taskKind(metric_.substr(0, dot))).capabilities;
    return capabilities.at("metrics").value(metric_.substr(dot + 1), "max");
  }

  double valueOf(const Metrics& metrics) const {
    if (metric_ == "loss") {
      double sum = 0;
      for (const auto& [task, values] : metrics) sum += values.at("loss");
      return sum / static_cast<double>(metrics.size());
    }
    const auto dot = metric_.find('.');
    const auto task = metrics.find(metric_.substr(0, dot));
    if (dot == std::string::npos || task == metrics.end() || !task->second.count(metric_.substr(dot + 1))) {
      throw std::invalid_argument("fit: the metric '" + metric_ + "' is not among the evaluation's metrics");
    }
    return task->second.at(metric_.substr(dot + 1));
  }

  std::string metric_;
  bool minimize_ = false;
  double best_ = 0, value_ = 0;
  bool haveBest_ = false;
};

// Stops a fit when the metric has not improved for `patience` evaluations.
class EarlyStopper {
 public:
  EarlyStopper(const EarlyStopping& settings, TrainableModel& model)
      : tracker_(settings.metric, settings.mode, model), patience_(settings.patience), minDelta_(settings.minDelta) {}
  // True: stop now.
  bool update(const Metrics& metrics) {
    if (tracker_.improves(metrics, minDelta_)) {
      stale_ = 0;
      return false;
    }
    return ++stale_ >= patience_;
  }
  void saveState(State& state, const std::string& prefix) const {
    tracker_.saveState(state, prefix);
    putInt(state, prefix + "stale", stale_);
  }
  void loadState(const State& state, const std::string& prefix) {
    if (!hasKey(state, prefix + "have_best")) return;
    const int64_t stale = getIntIn(state, prefix + "stale", 0, std::numeric_limits<int64_t>::max());
    tracker_.loadState(state, prefix);
    stale_ = stale;
  }

 private:
  MetricTracker tracker_;
  int64_t patience_;
  double minDelta_;
  int64_t stale_ = 0;
};

}  // namespace

FitResult Trainer::runFit(const Datasets& trainSets, const Datasets& evalSets, const FitSettings& settings, const EventSink& onEvent,
                          const std::atomic<bool>& abortRequested) {
  // The model's tasks that have training data, in the model's order.
  std::vector<std::string> tasks;
  std::vector<std::shared_ptr<const data::Dataset>> datasets;
  for (const auto& name : model_->taskNames()) {
    auto it = trainSets.find(name);
    if (it == trainSets.end()) continue;
    tasks.push_back(name);
    datasets.push_back(it->second);
  }
  runner_->setTasks(tasks);
  // Data parallel: every rank reads its part of the same global batches of batchSize × ranks rows.
  TaskStreams streams(tasks, datasets, options_.seed, sync_->rank(), sync_->worldSize());
  const int64_t globalBatchSize = options_.batchSize * sync_->worldSize();

  const StrategyCapabilities& capabilities = strategyCapabilities(options_.strategy);
  std::unique_ptr<TaskSampler> sampler;
  if (!options_.sampler.is_null() && capabilities.sampler != "none") {
    sampler = makeSampler(options_.sampler, {streams.sizes(), options_.seed});
  } else if (capabilities.sampler == "required") {
    sampler = makeSampler({{"kind", capabilities.defaultSampler}}, {streams.sizes(), options_.seed});
  }
  std::unique_ptr<Strategy> strategy = makeStrategy(options_.strategy, {tasks, streams.sizes(), globalBatchSize, sampler.get()});
  const int64_t stepsPerEpoch = std::max<int64_t>(strategy->stepsPerEpoch(), 1);
  const int64_t totalSteps = settings.steps > 0 ? settings.steps : settings.epochs * stepsPerEpoch;

  step_ = 0;
  std::unique_ptr<EarlyStopper> stopper;
  if (!settings.earlyStopping.is_null())
    stopper = std::make_unique<EarlyStopper>(readOptions<EarlyStopping>(settings.earlyStopping), *model_);
  std::unique_ptr<MetricTracker> best;
  if (!settings.keepBest.is_null()) {
    const auto keep = readOptions<BestModel>(settings.keepBest);
    best = std::make_unique<MetricTracker>(keep.metric, keep.mode, *model_);
  }
  // Everything a checkpoint of this run holds: the trainer's state, the data positions, the
  // sampler and the strategy, the best values of keepBest and earlyStopping, and what they belong to.
  const std::string samplerKind = !sampler                     ? "none"
                                  : options_.sampler.is_null() ? capabilities.defaultSampler
                                                               : options_.sampler.value("kind", capabilities.defaultSampler);
  auto captureRun = [&] {
    Checkpoint checkpoint = capture();
    streams.saveState(checkpoint.state, "data.");
    if (sampler) sampler->saveState(checkpoint.state, "sampler.");
    strategy->saveState(checkpoint.state, "strategy.");
    if (stopper) stopper->saveState(checkpoint.state, kEarlyStoppingPrefix);
    if (best) best->saveState(checkpoint.state, kKeepBestPrefix);
    checkpoint.metadata["strategy"] = options_.strategy.at("kind").get<std::string>();
    checkpoint.metadata["sampler"] = samplerKind;
    // Positions and plans count global rows: a run resumes on another number of ranks when
    // batchSize × ranks is what it was.
    checkpoint.metadata["globalBatchSize"] = std::to_string(globalBatchSize);
    return checkpoint;
  };
  Checkpoint resume = settings.resumeFrom.empty() ? std::move(pending_) : readCheckpoint(settings.resumeFrom);
  pending_ = Checkpoint();
  if (!resume.empty()) {
    // The whole file against what this run writes (entries, dtypes, shapes, finite values,
    // metadata), then each part checks its ranges as it restores; the loop's parts are this fit's
    // own, so a refusal leaves the trainer as it was (restore is all or nothing).
    // keepBest and earlyStopping are settings of this fit: a checkpoint of a run without them has
    // none of their entries (they start afresh), and one of a run with them resumes without them.
    // Data parallel: one generator row per rank of the run that wrote it. A resume on another
    // number of ranks (the same global batch) has another row count, and a single-process
    // checkpoint has none: rank rows are checked for their width only (restore falls back to
    // rank 0's generator when the counts differ).
    namingFile(resume, [&] {
      Checkpoint expected = captureRun();
      auto rankRows = resume.state.find(kRankGenerators);
      if (rankRows != resume.state.end() && rankRows->second.dim() == 2) {
        expected.state[kRankGenerators] = at::empty({rankRows->second.size(0), expected.state.at("rng.cpu").numel()}, at::kByte);
      }
      checkAgainst(resume, expected, {kEarlyStoppingPrefix, kKeepBestPrefix, kRankGenerators});
      // A step beyond this fit's budget is no state this fit could have written (it would end at
      // once, reporting more steps than it was given).
      getIntIn(resume.state, "loop.step", 0, totalSteps);
      streams.loadState(resume.state, "data.");
      if (sampler) sampler->loadState(resume.state, "sampler.");
      strategy->loadState(resume.state, "strategy.");
      if (stopper) stopper->loadState(resume.state, kEarlyStoppingPrefix);
      if (best) best->loadState(resume.state, kKeepBestPrefix);
      restore(resume);
    });
  }
  if (sync_->worldSize() > 1) {
    std::string data = "batch " + std::to_string(globalBatchSize);
    for (size_t i = 0; i < tasks.size(); ++i) data += "; " + tasks[i] + " " + std::to_string(datasets[i]->size());
    sync_->agree("the training data (tasks and sizes) and the global batch size", data);
    sync_->agree("the step the run starts at (resumeFrom)", std::to_string(step_));
    shareWeights();
  }

  FitResult result;
  std::map<std::string, double> epochLossSums;
  std::map<std::string, int64_t> epochLossCounts;
  auto clock = std::chrono::steady_clock::now();
  int64_t stepsSinceClock = 0, examplesSinceClock = 0;
  double communicationAtClock = sync_->communicationSeconds();

  auto writeCheckpointNow = [&] {
    if (sync_->rank() == 0) std::filesystem::create_directories(settings.checkpointDir);
    const std::string path = (std::filesystem::path(settings.checkpointDir) / "checkpoint.safetensors").string();
    // Every rank captures (a collective: the ranks' generators), rank 0 writes; the others wait
    // until the file is complete (a rank that fails meanwhile fails the barrier, naming itself).
    Checkpoint checkpoint = captureRun();
    if (sync_->rank() == 0) writeCheckpoint(path, checkpoint);
    sync_->barrier();
    result.checkpoints.push_back(path);
    ProgressEvent event{"checkpoint", step_, step_ / stepsPerEpoch};
    event.message = path;
    onEvent(event);
  };
  auto writeBest = [&](double value) {
    // The model's weights only (as MultiTaskModel.save writes them), with the step and metric.
    if (sync_->rank() == 0) std::filesystem::create_directories(settings.checkpointDir);
    const std::string path = (std::filesystem::path(settings.checkpointDir) / "best.safetensors").string();
    Checkpoint weights;
    for (const auto& item : model_->module().named_parameters(true)) weights.state[item.key()] = item.value().detach();
    for (const auto& item : model_->module().named_buffers(true)) weights.state[item.key()] = item.value().detach();
    weights.metadata["step"] = std::to_string(step_);
    weights.metadata["value"] = std::to_string(value);
    if (sync_->rank() == 0) writeModelWeights(path, weights);
    sync_->barrier();
    ProgressEvent event{"best", step_, (step_ - 1) / stepsPerEpoch};
    event.message = path;
    event.value = value;
    onEvent(event);
  };
  auto runEvaluation = [&]() -> bool {  // true: stop early
    ProgressEvent event{"eval", step_, (step_ - 1) / stepsPerEpoch};
    event.metrics = evaluate(evalSets);
    result.evalEvents.push_back(event);
    onEvent(event);
    if (best && best->improves(event.metrics)) writeBest(best->value());
    return stopper && stopper->update(event.metrics);
  };

  while (step_ < totalSteps) {
    if (anyRank(abortRequested.load())) {
      result.aborted = true;
      break;
    }
    const int64_t epoch = step_ / stepsPerEpoch;
    const StepPlan plan = strategy->plan(step_);
    const bool diagnose = settings.diagnosticsEvery > 0 && step_ % settings.diagnosticsEvery == 0;
    StepReport report = runner_->run(
        plan, [&](const StepPlan& p) { return streams.next(p.tasks, p.rows); }, step_, epoch, totalSteps, diagnose);
    ++step_;
    ++stepsSinceClock;
    for (const auto& [task, rows] : report.examples) examplesSinceClock += rows;
    for (const auto& [task, loss] : report.losses) epochLossSums[task] += loss, ++epochLossCounts[task];
    if (report.skipped) {
      ProgressEvent event{"skipped", step_, epoch};
      event.message = report.skippedReason;
      onEvent(event);
    } else if ((settings.progressEvery > 0 && step_ % settings.progressEvery == 0) || report.diagnostics) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock).count();
      ProgressEvent event{"step", step_, epoch, report.losses, report.lambdas, report.examples, report.learningRate};
      event.diagnostics = report.diagnostics;
      event.stepsPerSecond = seconds > 0 ? static_cast<double>(stepsSinceClock) / seconds : 0;
      event.examplesPerSecond = seconds > 0 ? static_cast<double>(examplesSinceClock) / seconds : 0;
      event.threads = getNumThreads();
      event.communicationSeconds = (sync_->communicationSeconds() - communicationAtClock) / static_cast<double>(stepsSinceClock);
      onEvent(event);
      clock = std::chrono::steady_clock::now();
      communicationAtClock = sync_->communicationSeconds();
      stepsSinceClock = examplesSinceClock = 0;
    }
    bool stop = false;
    if (step_ % stepsPerEpoch == 0 || step_ == totalSteps) {
      ProgressEvent event{"epoch", step_, epoch};
      for (const auto& [task, sum] : epochLossSums) event.losses[task] = sum / static_cast<double>(epochLossCounts[task]);
      event.learningRate = report.learningRate;
      result.epochEvents.push_back(event);
      onEvent(event);
      epochLossSums.clear();
      epochLossCounts.clear();
      if (settings.evalEvery == 0 && !evalSets.empty()) stop = runEvaluation();
    }
    if (!stop && settings.evalEvery > 0 && !evalSets.empty() && step_ % settings.evalEvery == 0) stop = runEvaluation();
    if (!settings.checkpointDir.empty() && settings.checkpointEvery > 0 && step_ % settings.checkpointEvery == 0) writeCheckpointNow();
    if (stop) {
      result.stoppedEarly = true;
      break;
    }
  }
  if (!settings.checkpointDir.empty() && (settings.checkpointEvery == 0 || step_ % settings.checkpointEvery != 0)) writeCheckpointNow();
  result.steps = step_;
  result.epochs = step_ == 0 ? 0 : (step_ - 1) / stepsPerEpoch + 1;
  return result;
}

}  // namespace mtl::train
