#include "core/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>
#include <torch/nn/utils/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/compat.h"
#include "core/metrics/metrics.h"
#include "core/runtime.h"
#include "core/train/checkpoint.h"

namespace mtl::train {

namespace {

// A seed for one pass over one task's data, mixed (splitmix64) so neighbouring tasks and passes
// get unrelated orders.
uint64_t passSeed(uint64_t seed, int64_t task, int64_t pass) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(task * 1000003 + pass + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;  // fits an int64 seed
}

// Autocast for the duration of a scope, in this thread (autocast state is thread-local).
class AutocastScope {
 public:
  AutocastScope(const std::string& precision, c10::Device device) : device_(device.type()) {
    if (precision == "fp32") return;
    const at::ScalarType dtype = precision == "bf16" ? at::kBFloat16 : at::kHalf;
    compat::setAutocast(device_, true, dtype);
    active_ = true;
  }
  ~AutocastScope() {
    if (active_) compat::setAutocast(device_, false, device_ == c10::DeviceType::CUDA ? at::kHalf : at::kBFloat16);
  }

 private:
  c10::DeviceType device_;
  bool active_ = false;
};

at::Tensor flatGradients(const at::Tensor& loss, const std::vector<at::Tensor>& parameters) {
  auto grads = torch::autograd::grad({loss}, parameters, {}, /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
  std::vector<at::Tensor> flat;
  for (size_t i = 0; i < grads.size(); ++i) {
    flat.push_back(grads[i].defined() ? grads[i].reshape(-1) : at::zeros({parameters[i].numel()}, parameters[i].options()));
  }
  return at::cat(flat);
}

void addFlatGradient(const std::vector<at::Tensor>& parameters, const at::Tensor& flat) {
  int64_t offset = 0;
  for (const auto& p : parameters) {
    at::Tensor piece = flat.slice(0, offset, offset + p.numel()).view_as(p).to(p.scalar_type());
    offset += p.numel();
    if (p.grad().defined()) {
      p.mutable_grad().add_(piece);
    } else {
      p.mutable_grad() = piece.clone();
    }
  }
}

std::string formatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

// The endless sequence of batch rows of one task (or of tasks sharing inputs): passes over its data
// set, each in its own seeded order.
struct Trainer::TaskStream {
  std::shared_ptr<const data::Dataset> dataset;
  int64_t task = 0;  // the first task reading this stream: it seeds the order
  int64_t batchSize = 0;
  uint64_t seed = 0;
  int64_t pass = 0;
  int64_t position = 0;
  std::vector<at::Tensor> batches;

  void loadPass() { batches = dataset->batchIndices(batchSize, passSeed(seed, task, pass), false); }
  int64_t batchesPerPass() const { return (dataset->size() + batchSize - 1) / batchSize; }
  at::Tensor nextIndices() {
    if (position >= static_cast<int64_t>(batches.size())) {
      ++pass;
      position = 0;
      loadPass();
    }
    return batches[position++];
  }
};

Trainer::Trainer(std::shared_ptr<TrainableModel> model, TrainerOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  if (!model_) throw std::invalid_argument("trainer: no model");
  if (options_.batchSize <= 0) throw std::invalid_argument("trainer: 'batchSize' must be a positive integer");
  if (options_.accumulateSteps <= 0) throw std::invalid_argument("trainer: 'accumulateSteps' must be a positive integer");
  if (!(options_.clipGradNorm >= 0)) throw std::invalid_argument("trainer: 'clipGradNorm' must be >= 0");
  if (options_.precision != "fp32" && options_.precision != "bf16" && options_.precision != "fp16") {
    throw std::invalid_argument("trainer: 'precision' must be 'fp32', 'bf16' or 'fp16'");
  }
  if (options_.precision == "fp16" && !model_->device().is_cuda()) {
    throw std::invalid_argument("trainer: precision 'fp16' needs a CUDA model (use 'bf16' on the CPU)");
  }
  if (options_.precision == "fp16") lossScale_ = 65536.0;  // torch.cuda.amp.GradScaler's initial scale
  // Validates the schedule's kind early.
  learningRateFactor(options_.schedule, options_.schedule.warmupSteps, options_.schedule.warmupSteps + 1);
  optimizer_ = buildOptimizer(options_.optimizer, model_->parameterGroups());
  for (const auto& group : optimizer_.optimizer->param_groups()) {
    for (const auto& p : group.params()) allParameters_.push_back(p);
  }
  sharedParameters_ = model_->sharedParameters();
  lastSharedParameters_ = model_->lastSharedParameters();
  std::set<const void*> shared;
  for (const auto& p : sharedParameters_) shared.insert(p.unsafeGetTensorImpl());
  for (const auto& p : allParameters_) {
    if (!shared.count(p.unsafeGetTensorImpl())) taskSpecificParameters_.push_back(p);
  }
  // The model's task list, checked against the strategy and weighting now so that bad
  // combinations fail at construction, not at the first fit.
  prepare(model_->taskNames());
}

Trainer::~Trainer() = default;

void Trainer::prepare(const std::vector<std::string>& tasks) {
  if (!weighting_ || tasks != taskNames_) {
    weighting_ = makeWeighting(options_.weighting, tasks);
    if (weighting_->gradientNeed() == GradientNeed::Shared && sharedParameters_.empty()) {
      throw std::invalid_argument("weighting." + weighting_->name() + " needs shared parameters, and the model has none");
    }
    if (weighting_->gradientNeed() == GradientNeed::LastShared && lastSharedParameters_.empty()) {
      throw std::invalid_argument("weighting." + weighting_->name() + " needs a last shared layer, and the model has none");
    }
  }
  taskNames_ = tasks;
  strategy_ = std::make_unique<Strategy>(options_.strategy, taskNames_, *weighting_);
}

void Trainer::reduceGradients() {
  // The one place where the gradients of a step are final before clipping and the optimizer:
  // a data-parallel run all-reduces (averages) every parameter's .grad here, through a c10d
  // ProcessGroup, before clipping, so every replica clips and steps identically. A single
  // process has nothing to reduce.
}

StepReport Trainer::runStep(const StepPlan& plan, const BatchSource& nextBatches) {
  at::AutoGradMode gradMode(true);
  AutocastScope autocast(options_.precision, model_->device());
  model_->module().train();
  for (auto& p : allParameters_) p.mutable_grad() = at::Tensor();

  StepReport report;
  const int64_t micro = options_.accumulateSteps;
  const StepContext context{step_, step_ / stepsPerEpoch_};
  for (int64_t m = 0; m < micro; ++m) {
    std::map<std::string, at::Tensor> taskLosses = model_->taskLosses(nextBatches(plan.tasks));

    std::vector<at::Tensor> losses;
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      const std::string& task = taskNames_[plan.tasks[i]];
      auto it = taskLosses.find(task);
      if (it == taskLosses.end()) throw std::runtime_error("trainer: the model returned no loss for task '" + task + "'");
      const double value = it->second.item<double>();
      if (!std::isfinite(value)) {
        const std::string reason = "step " + std::to_string(step_ + 1) + ": the loss of task '" + task + "' is " + formatNumber(value);
        if (!options_.skipNonFinite) throw NonFiniteLossError("trainer: " + reason);
        for (auto& p : allParameters_) p.mutable_grad() = at::Tensor();
        report.skipped = true;
        report.skippedReason = reason;
        ++step_;
        return report;
      }
      losses.push_back(it->second.to(at::kFloat) * plan.scales[i]);
      report.losses[task] += value / static_cast<double>(micro);
    }

    at::Tensor taskGradients;
    const GradientNeed need = weighting_->gradientNeed();
    if (need != GradientNeed::None) {
      const auto& parameters = need == GradientNeed::Shared ? sharedParameters_ : lastSharedParameters_;
      std::vector<at::Tensor> rows;
      for (const auto& loss : losses) rows.push_back(flatGradients(loss, parameters));
      taskGradients = at::stack(rows);
    }
    Combination combination = weighting_->combine(plan.tasks, losses, taskGradients, context);
    const double factor = lossScale_ / static_cast<double>(micro);
    at::Tensor objective = combination.objective * factor;
    if (combination.sharedGradient.defined()) {
      // Gradient surgery wrote the shared parameters' gradient; the objective reaches only the rest.
      std::vector<at::Tensor> inputs = taskSpecificParameters_;
      for (const auto& p : weighting_->parameters()) inputs.push_back(p);
      if (!inputs.empty() && objective.requires_grad()) torch::autograd::backward({objective}, {}, c10::nullopt, false, inputs);
      addFlatGradient(sharedParameters_, combination.sharedGradient * factor);
    } else {
      objective.backward();
    }
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      report.lambdas[taskNames_[plan.tasks[i]]] += combination.lambdas[i] * plan.scales[i] / static_cast<double>(micro);
    }
  }
  weighting_->afterBackward();
  reduceGradients();

  if (options_.precision == "fp16") {
    // Dynamic loss scaling, as torch.cuda.amp.GradScaler: unscale, skip the step on overflow and
    // halve the scale, double it after 2000 clean steps.
    bool finite = true;
    for (auto& p : allParameters_) {
      if (!p.grad().defined()) continue;
      p.mutable_grad().div_(lossScale_);
      finite = finite && at::isfinite(p.grad()).all().item<bool>();
    }
    if (!finite) {
      lossScale_ *= 0.5;
      stepsSinceScaleGrowth_ = 0;
      report.skipped = true;
      report.skippedReason = "step " + std::to_string(step_ + 1) + ": fp16 gradients overflowed; loss scale lowered to " + formatNumber(lossScale_);
      ++step_;
      return report;
    }
    if (++stepsSinceScaleGrowth_ >= 2000) lossScale_ *= 2.0, stepsSinceScaleGrowth_ = 0;
  }
  if (options_.clipGradNorm > 0) torch::nn::utils::clip_grad_norm_(allParameters_, options_.clipGradNorm);

  const double lrFactor = learningRateFactor(options_.schedule, step_, std::max<int64_t>(totalSteps_, 1));
  for (size_t g = 0; g < optimizer_.baseLearningRates.size(); ++g) {
    setGroupLearningRate(*optimizer_.optimizer, g, optimizer_.baseLearningRates[g] * lrFactor);
  }
  report.learningRate = optimizer_.baseLearningRates.front() * lrFactor;
  optimizer_.optimizer->step();
  ++step_;
  return report;
}

StepReport Trainer::step(const std::map<std::string, data::Batch>& batches) {
  std::vector<std::string> tasks;
  for (const auto& name : model_->taskNames()) {
    if (batches.count(name)) tasks.push_back(name);
  }
  for (const auto& [name, batch] : batches) {
    if (std::find(tasks.begin(), tasks.end(), name) == tasks.end()) throw std::invalid_argument("trainer.step: '" + name + "' is not a task of the model");
  }
  if (tasks.empty()) throw std::invalid_argument("trainer.step: no batches given");
  if (options_.accumulateSteps != 1) throw std::invalid_argument("trainer.step: takes one batch per task, so 'accumulateSteps' must be 1");
  // Every task of the model keeps its weighting state; the step trains the tasks given.
  const std::vector<std::string> all = model_->taskNames();
  if (taskNames_ != all) prepare(all);
  StepPlan plan;
  for (const auto& name : tasks) {
    plan.tasks.push_back(std::find(taskNames_.begin(), taskNames_.end(), name) - taskNames_.begin());
    plan.scales.push_back(1.0);
  }
  if (weighting_->needsAllTasksEachStep() && plan.tasks.size() != taskNames_.size()) {
    throw std::invalid_argument("trainer.step: weighting." + weighting_->name() + " needs a batch of every task");
  }
  return runStep(plan, [&](const std::vector<int64_t>&) { return batches; });
}

Metrics Trainer::evaluate(const Datasets& evalSets) {
  at::NoGradGuard noGrad;
  AutocastScope autocast(options_.precision, model_->device());
  const auto modelTasks = model_->taskNames();
  const int64_t batchSize = options_.evalBatchSize > 0 ? options_.evalBatchSize : options_.batchSize;
  Metrics metrics;
  model_->module().eval();
  try {
    for (const auto& [task, dataset] : evalSets) {
      if (std::find(modelTasks.begin(), modelTasks.end(), task) == modelTasks.end()) {
        throw std::invalid_argument("evaluate: '" + task + "' is not a task of the model");
      }
      double lossSum = 0, correct = 0, counted = 0, squaredError = 0;
      std::vector<at::Tensor> predictions, targets;  // class ids or regression values, for F1/MCC/correlations
      std::vector<std::vector<int64_t>> hypotheses, references;  // generated and reference sequences
      for (const auto& indices : dataset->batchIndices(batchSize, c10::nullopt, false)) {
        const data::Batch batch = dataset->batch(indices);
        const int64_t rows = indices.numel();
        lossSum += model_->taskLosses({{task, batch}}).at(task).item<double>() * static_cast<double>(rows);
        const at::Tensor predicted = model_->predict(task, batch).cpu();
        switch (dataset->targetKind()) {
          case data::TargetKind::Class:
            predictions.push_back(predicted.reshape(-1));
            targets.push_back(batch.targets.reshape(-1));
            [[fallthrough]];
          case data::TargetKind::MultiLabel:
            correct += predicted.eq(batch.targets.to(predicted.scalar_type())).sum().item<double>();
            counted += static_cast<double>(batch.targets.numel());
            break;
          case data::TargetKind::Tagging: {
            at::Tensor mask = batch.targets.ne(dataset->targetPadId());
            correct += (predicted.eq(batch.targets) & mask).sum().item<double>();
            counted += mask.sum().item<double>();
            break;
          }
          case data::TargetKind::Regression:
            predictions.push_back(predicted.to(at::kDouble).reshape(-1));
            targets.push_back(batch.targets.to(at::kDouble).reshape(-1));
            squaredError += (predictions.back() - targets.back()).pow(2).sum().item<double>();
            break;
          case data::TargetKind::Sequence: {
            // References end with EOS (their last token); a generation ends at its first EOS (then
            // padding) or runs to the length limit. The error rates compare the tokens before EOS;
            // any token the model generated before it counts, the pad id included.
            auto refs = metrics::unpad(batch.targets, batch.targetLengths);
            auto hyps = metrics::unpad(predicted, at::full({predicted.size(0)}, predicted.size(1), at::kLong));
            for (size_t i = 0; i < refs.size(); ++i) {
              if (!refs[i].empty()) {
                const int64_t eos = refs[i].back();
                refs[i].pop_back();
                hyps[i].erase(std::find(hyps[i].begin(), hyps[i].end(), eos), hyps[i].end());
              }
              hypotheses.push_back(std::move(hyps[i]));
              references.push_back(std::move(refs[i]));
            }
            break;
          }
        }
      }
      auto& out = metrics[task];
      out["loss"] = lossSum / static_cast<double>(dataset->size());
      if (counted > 0) out["accuracy"] = correct / counted;
      if (!predictions.empty() && dataset->targetKind() == data::TargetKind::Class) {
        const at::Tensor predicted = at::cat(predictions), target = at::cat(targets);
        // F1 of class 1 for two classes (GLUE's MRPC and QQP), macro F1 otherwise.
        const bool binary = std::max(predicted.max().item<int64_t>(), target.max().item<int64_t>()) <= 1;
        out["f1"] = binary ? metrics::f1(predicted, target, 1) : metrics::f1Macro(predicted, target);
        out["matthews"] = metrics::matthewsCorrelation(predicted, target);
      } else if (!predictions.empty()) {
        out["mse"] = squaredError / static_cast<double>(dataset->size());
        out["pearson"] = metrics::pearson(at::cat(predictions), at::cat(targets));
        out["spearman"] = metrics::spearman(at::cat(predictions), at::cat(targets));
      }
      if (!references.empty()) {
        const auto errors = metrics::sequenceErrors(hypotheses, references);
        out["per"] = errors.tokenErrorRate();
        out["wer"] = errors.sequenceErrorRate();
      }
    }
  } catch (...) {
    model_->module().train();
    throw;
  }
  model_->module().train();
  return metrics;
}

FitResult Trainer::fit(const Datasets& trainSets, const FitOptions& fitOptions, const std::function<void(const ProgressEvent&)>& onEvent,
                       const std::atomic<bool>& abortRequested) {
  if ((fitOptions.epochs > 0) == (fitOptions.steps > 0)) throw std::invalid_argument("fit: give exactly one of 'epochs' and 'steps' (a positive integer)");
  const auto modelTasks = model_->taskNames();
  std::vector<std::string> tasks;
  for (const auto& name : modelTasks) {
    if (trainSets.count(name)) tasks.push_back(name);
  }
  for (const auto& [name, dataset] : trainSets) {
    if (!std::count(modelTasks.begin(), modelTasks.end(), name)) throw std::invalid_argument("fit: '" + name + "' is not a task of the model");
    if (!dataset || dataset->size() == 0) throw std::invalid_argument("fit: the data set of '" + name + "' is empty");
  }
  if (tasks.empty()) throw std::invalid_argument("fit: no training data sets given");
  prepare(tasks);

  std::vector<int64_t> sizes, batchesPerPass;
  streams_.clear();
  taskDatasets_.clear();
  for (size_t i = 0; i < tasks.size(); ++i) {
    taskDatasets_.push_back(trainSets.at(tasks[i]));
    std::shared_ptr<TaskStream> stream;
    for (size_t j = 0; j < i && !stream; ++j) {
      if (taskDatasets_[j]->sharesInputsWith(*taskDatasets_[i])) stream = streams_[j];
    }
    if (!stream) {
      stream = std::make_shared<TaskStream>();
      stream->dataset = taskDatasets_[i];
      stream->task = static_cast<int64_t>(i);
      stream->batchSize = options_.batchSize;
      stream->seed = options_.seed;
      stream->loadPass();
    }
    sizes.push_back(stream->dataset->size());
    batchesPerPass.push_back(stream->batchesPerPass());
    streams_.push_back(std::move(stream));
  }
  sampler_ = makeSampler(options_.sampler, sizes, options_.seed);
  const int64_t stepsPerEpoch = strategy_->stepsPerEpoch(batchesPerPass);
  stepsPerEpoch_ = stepsPerEpoch;
  totalSteps_ = fitOptions.steps > 0 ? fitOptions.steps : fitOptions.epochs * stepsPerEpoch;
  step_ = 0;
  epochTask_ = 0;
  if (!fitOptions.resumeFrom.empty()) restoreState(readCheckpoint(fitOptions.resumeFrom));
  if (!pendingRestore_.empty()) {
    restoreState(pendingRestore_);
    pendingRestore_.clear();
  }

  FitResult result;
  std::map<std::string, double> epochLossSums;
  std::map<std::string, int64_t> epochLossCounts;
  double best = 0;
  bool haveBest = false;
  int64_t evalsWithoutImprovement = 0;
  auto clock = std::chrono::steady_clock::now();
  int64_t stepsSinceClock = 0, examplesSinceClock = 0;

  auto checkpointPath = [&] { return (std::filesystem::path(fitOptions.checkpointDir) / "checkpoint.safetensors").string(); };
  auto writeCheckpointNow = [&] {
    std::filesystem::create_directories(fitOptions.checkpointDir);
    const std::string path = checkpointPath();
    saveCheckpoint(path);
    result.checkpoints.push_back(path);
    ProgressEvent event{"checkpoint", step_, step_ / stepsPerEpoch};
    event.message = path;
    onEvent(event);
  };
  auto runEvaluation = [&]() -> bool {  // true: stop early
    ProgressEvent event{"eval", step_, (step_ - 1) / stepsPerEpoch};
    event.metrics = evaluate(fitOptions.evalSets);
    result.evalEvents.push_back(event);
    onEvent(event);
    if (!fitOptions.hasEarlyStopping) return false;
    const auto& es = fitOptions.earlyStopping;
    double value = 0;
    if (es.metric == "loss") {
      for (const auto& [task, values] : event.metrics) value += values.at("loss") / static_cast<double>(event.metrics.size());
    } else {
      const auto dot = es.metric.find('.');
      const auto task = event.metrics.find(es.metric.substr(0, dot));
      if (dot == std::string::npos || task == event.metrics.end() || !task->second.count(es.metric.substr(dot + 1))) {
        throw std::invalid_argument("fit: earlyStopping.metric '" + es.metric + "' is not among the evaluation's metrics");
      }
      value = task->second.at(es.metric.substr(dot + 1));
    }
    const bool improved = !haveBest || (es.mode == "max" ? value > best + es.minDelta : value < best - es.minDelta);
    if (improved) {
      best = value, haveBest = true, evalsWithoutImprovement = 0;
      return false;
    }
    return ++evalsWithoutImprovement >= es.patience;
  };

  while (step_ < totalSteps_) {
    if (abortRequested.load()) {
      result.aborted = true;
      break;
    }
    const int64_t epoch = step_ / stepsPerEpoch;
    if (step_ % stepsPerEpoch == 0 && strategy_->picksTaskPerEpoch()) epochTask_ = sampler_->next();
    const StepPlan plan = strategy_->plan(step_, *sampler_, epochTask_);
    int64_t examples = 0;
    StepReport report = runStep(plan, [&](const std::vector<int64_t>& planTasks) {
      auto batches = drawBatches(planTasks);
      for (const auto& [task, batch] : batches) examples += batch.indices.numel();
      return batches;
    });
    ++stepsSinceClock;
    examplesSinceClock += examples;
    for (const auto& [task, loss] : report.losses) epochLossSums[task] += loss, ++epochLossCounts[task];
    if (report.skipped) {
      ProgressEvent event{"skipped", step_, epoch};
      event.message = report.skippedReason;
      onEvent(event);
    } else if (fitOptions.progressEvery > 0 && step_ % fitOptions.progressEvery == 0) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock).count();
      ProgressEvent event{"step", step_, epoch, report.losses, report.lambdas, report.learningRate};
      event.stepsPerSecond = seconds > 0 ? static_cast<double>(stepsSinceClock) / seconds : 0;
      event.examplesPerSecond = seconds > 0 ? static_cast<double>(examplesSinceClock) / seconds : 0;
      event.threads = getNumThreads();
      onEvent(event);
      clock = std::chrono::steady_clock::now();
      stepsSinceClock = examplesSinceClock = 0;
    }
    bool stop = false;
    if (step_ % stepsPerEpoch == 0 || step_ == totalSteps_) {
      ProgressEvent event{"epoch", step_, epoch};
      for (const auto& [task, sum] : epochLossSums) event.losses[task] = sum / static_cast<double>(epochLossCounts[task]);
      event.learningRate = report.learningRate;
      result.epochEvents.push_back(event);
      onEvent(event);
      epochLossSums.clear();
      epochLossCounts.clear();
      if (fitOptions.evalEvery == 0 && !fitOptions.evalSets.empty()) stop = runEvaluation();
    }
    if (!stop && fitOptions.evalEvery > 0 && !fitOptions.evalSets.empty() && step_ % fitOptions.evalEvery == 0) stop = runEvaluation();
    if (!fitOptions.checkpointDir.empty() && fitOptions.checkpointEvery > 0 && step_ % fitOptions.checkpointEvery == 0) writeCheckpointNow();
    if (stop) {
      result.stoppedEarly = true;
      break;
    }
  }
  if (!fitOptions.checkpointDir.empty() && (fitOptions.checkpointEvery == 0 || step_ % fitOptions.checkpointEvery != 0)) writeCheckpointNow();
  result.steps = step_;
  result.epochs = step_ == 0 ? 0 : (step_ - 1) / stepsPerEpoch + 1;
  return result;
}

std::map<std::string, data::Batch> Trainer::drawBatches(const std::vector<int64_t>& tasks) {
  std::map<std::string, data::Batch> batches;
  std::map<const TaskStream*, data::Batch> drawn;  // the first batch each stream gave this round
  for (int64_t t : tasks) {
    TaskStream& stream = *streams_[t];
    auto first = drawn.find(&stream);
    if (first == drawn.end()) {
      data::Batch batch = taskDatasets_[t]->batch(stream.nextIndices());
      drawn.emplace(&stream, batch);
      batches[taskNames_[t]] = std::move(batch);
      continue;
    }
    // The same rows, and the very same input tensors: the model groups tasks by their input
    // tensor and encodes each group once.
    batches[taskNames_[t]] = taskDatasets_[t]->batchWithInputsOf(first->second);
  }
  return batches;
}

State Trainer::captureState() const {
  State state;
  for (const auto& item : model_->module().named_parameters(true)) state["model." + item.key()] = item.value().detach().clone();
  for (const auto& item : model_->module().named_buffers(true)) state["model." + item.key()] = item.value().detach().clone();
  saveOptimizerState(*optimizer_.optimizer, state, "optimizer.");
  weighting_->saveState(state, "weighting.");
  if (sampler_) sampler_->saveState(state, "sampler.");
  for (size_t t = 0; t < streams_.size(); ++t) {
    const std::string key = "data." + taskNames_[t] + ".";
    putInt(state, key + "pass", streams_[t]->pass);
    putInt(state, key + "position", streams_[t]->position);
  }
  putInt(state, "loop.step", step_);
  putInt(state, "loop.epoch_task", epochTask_);
  putDouble(state, "loop.loss_scale", lossScale_);
  putInt(state, "loop.steps_since_scale_growth", stepsSinceScaleGrowth_);
  state["rng.cpu"] = at::detail::getDefaultCPUGenerator().get_state();
  // A CUDA model's dropout draws from its device's generator: saved too, so a resumed CUDA run
  // draws the same masks.
  if (model_->device().is_cuda()) state["rng.cuda"] = at::globalContext().defaultGenerator(model_->device()).get_state();
  return state;
}

void Trainer::restoreState(const State& state) {
  {
    at::NoGradGuard noGrad;
    for (const auto& item : model_->module().named_parameters(true)) {
      const at::Tensor& saved = getTensor(state, "model." + item.key());
      if (saved.sizes() != item.value().sizes()) throw std::invalid_argument("checkpoint: 'model." + item.key() + "' has another shape than the model's");
      item.value().copy_(saved);
    }
    for (const auto& item : model_->module().named_buffers(true)) item.value().copy_(getTensor(state, "model." + item.key()));
  }
  loadOptimizerState(*optimizer_.optimizer, state, "optimizer.");
  weighting_->loadState(state, "weighting.");
  if (sampler_) sampler_->loadState(state, "sampler.");
  for (size_t t = 0; t < streams_.size(); ++t) {
    // Tasks sharing a stream saved the same position; each restores it.
    TaskStream& stream = *streams_[t];
    const std::string key = "data." + taskNames_[t] + ".";
    if (!hasKey(state, key + "pass")) throw std::invalid_argument("checkpoint: it holds no data position for task '" + taskNames_[t] + "'");
    stream.pass = getInt(state, key + "pass");
    stream.loadPass();
    stream.position = getInt(state, key + "position");
  }
  step_ = getInt(state, "loop.step");
  epochTask_ = getInt(state, "loop.epoch_task");
  lossScale_ = getDouble(state, "loop.loss_scale");
  stepsSinceScaleGrowth_ = getInt(state, "loop.steps_since_scale_growth");
  at::Generator globalGenerator = at::detail::getDefaultCPUGenerator();  // a handle sharing the global generator
  globalGenerator.set_state(getTensor(state, "rng.cpu"));
  if (model_->device().is_cuda() && hasKey(state, "rng.cuda")) {
    at::Generator cudaGenerator = at::globalContext().defaultGenerator(model_->device());
    std::lock_guard<std::mutex> lock(cudaGenerator.mutex());
    cudaGenerator.set_state(getTensor(state, "rng.cuda"));
  }
}

void Trainer::saveCheckpoint(const std::string& path) { writeCheckpoint(path, captureState()); }

void Trainer::loadCheckpoint(const std::string& path) {
  // The data positions and sampler belong to a fit: they are applied when the next fit starts.
  pendingRestore_ = readCheckpoint(path);
}

}  // namespace mtl::train
