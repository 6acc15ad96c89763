// The fit loop: steps until the budget (epochs or steps) is done, the caller aborts, or early
// stopping says so; it emits step/epoch/eval/checkpoint events, evaluates every `evalEvery` steps
// (or each epoch) and writes checkpoints that resume bit for bit. The step itself is StepRunner's.
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "core/model/head.h"
#include "core/runtime.h"
#include "core/train/data_streams.h"
#include "core/train/trainer.h"

namespace mtl::train {

namespace {

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
    haveBest_ = getInt(state, prefix + "have_best") != 0;
    best_ = getDouble(state, prefix + "best");
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
    tracker_.loadState(state, prefix);
    if (hasKey(state, prefix + "stale")) stale_ = getInt(state, prefix + "stale");
    if (stale_ < 0) throw std::invalid_argument("checkpoint: '" + prefix + "stale' must be >= 0");
  }

 private:
  MetricTracker tracker_;
  int64_t patience_;
  double minDelta_;
  int64_t stale_ = 0;
};

}  // namespace

FitResult Trainer::fit(const Datasets& trainSets, const Datasets& evalSets, const FitSettings& settings, const EventSink& onEvent,
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
  TaskStreams streams(tasks, datasets, options_.seed);

  const StrategyCapabilities& capabilities = strategyCapabilities(options_.strategy);
  std::unique_ptr<TaskSampler> sampler;
  if (!options_.sampler.is_null() && capabilities.sampler != "none") {
    sampler = makeSampler(options_.sampler, {streams.sizes(), options_.seed});
  } else if (capabilities.sampler == "required") {
    sampler = makeSampler({{"kind", capabilities.defaultSampler}}, {streams.sizes(), options_.seed});
  }
  std::unique_ptr<Strategy> strategy = makeStrategy(options_.strategy, {tasks, streams.sizes(), options_.batchSize, sampler.get()});
  const int64_t stepsPerEpoch = std::max<int64_t>(strategy->stepsPerEpoch(), 1);
  const int64_t totalSteps = settings.steps > 0 ? settings.steps : settings.epochs * stepsPerEpoch;

  step_ = 0;
  Checkpoint resume = settings.resumeFrom.empty() ? std::move(pending_) : readCheckpoint(settings.resumeFrom);
  pending_ = Checkpoint();
  if (!resume.empty()) {
    requireMetadata(resume, "strategy", options_.strategy.at("kind").get<std::string>());
    requireMetadata(resume, "sampler", sampler ? options_.sampler.value("kind", capabilities.defaultSampler) : "none");
    // Checked first (they throw naming the entry), then the trainer's own state.
    streams.loadState(resume.state, "data.");
    if (sampler) sampler->loadState(resume.state, "sampler.");
    strategy->loadState(resume.state, "strategy.");
    restore(resume);
  }

  FitResult result;
  std::map<std::string, double> epochLossSums;
  std::map<std::string, int64_t> epochLossCounts;
  std::unique_ptr<EarlyStopper> stopper;
  if (!settings.earlyStopping.is_null()) stopper = std::make_unique<EarlyStopper>(readOptions<EarlyStopping>(settings.earlyStopping), *model_);
  std::unique_ptr<MetricTracker> best;
  if (!settings.keepBest.is_null()) {
    const auto keep = readOptions<BestModel>(settings.keepBest);
    best = std::make_unique<MetricTracker>(keep.metric, keep.mode, *model_);
  }
  if (!resume.empty()) {
    if (stopper) stopper->loadState(resume.state, "loop.early_stopping.");
    if (best) best->loadState(resume.state, "loop.keep_best.");
  }
  auto clock = std::chrono::steady_clock::now();
  int64_t stepsSinceClock = 0, examplesSinceClock = 0;

  auto writeCheckpointNow = [&] {
    std::filesystem::create_directories(settings.checkpointDir);
    const std::string path = (std::filesystem::path(settings.checkpointDir) / "checkpoint.safetensors").string();
    Checkpoint checkpoint = capture();
    streams.saveState(checkpoint.state, "data.");
    if (sampler) sampler->saveState(checkpoint.state, "sampler.");
    strategy->saveState(checkpoint.state, "strategy.");
    if (stopper) stopper->saveState(checkpoint.state, "loop.early_stopping.");
    if (best) best->saveState(checkpoint.state, "loop.keep_best.");
    checkpoint.metadata["strategy"] = options_.strategy.at("kind").get<std::string>();
    checkpoint.metadata["sampler"] = sampler ? options_.sampler.value("kind", capabilities.defaultSampler) : "none";
    if (sync_->rank() == 0) writeCheckpoint(path, checkpoint);
    result.checkpoints.push_back(path);
    ProgressEvent event{"checkpoint", step_, step_ / stepsPerEpoch};
    event.message = path;
    onEvent(event);
  };
  auto writeBest = [&](double value) {
    // The model's weights only (as MultiTaskModel.save writes them), with the step and metric.
    std::filesystem::create_directories(settings.checkpointDir);
    const std::string path = (std::filesystem::path(settings.checkpointDir) / "best.safetensors").string();
    Checkpoint weights;
    for (const auto& item : model_->module().named_parameters(true)) weights.state[item.key()] = item.value().detach();
    for (const auto& item : model_->module().named_buffers(true)) weights.state[item.key()] = item.value().detach();
    weights.metadata["step"] = std::to_string(step_);
    weights.metadata["value"] = std::to_string(value);
    if (sync_->rank() == 0) writeModelWeights(path, weights);
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
    if (abortRequested.load()) {
      result.aborted = true;
      break;
    }
    const int64_t epoch = step_ / stepsPerEpoch;
    const StepPlan plan = strategy->plan(step_);
    const bool diagnose = settings.diagnosticsEvery > 0 && step_ % settings.diagnosticsEvery == 0;
    StepReport report =
        runner_->run(plan, [&](const StepPlan& p) { return streams.next(p.tasks, p.rows); }, step_, epoch, totalSteps, diagnose);
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
      onEvent(event);
      clock = std::chrono::steady_clock::now();
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
