#include "core/train/step.h"

#include <torch/autograd.h>

#include <cmath>
#include <iterator>
#include <set>
#include <sstream>

#include "core/train/evaluation.h"

namespace mtl::train {

namespace {

at::Tensor flatGradients(const at::Tensor& loss, const std::vector<at::Tensor>& parameters) {
  if (!loss.requires_grad()) {
    // A data-parallel rank without rows of this task this step: it adds nothing to the mean.
    int64_t total = 0;
    for (const auto& p : parameters) total += p.numel();
    return at::zeros({total}, parameters.front().options().requires_grad(false));
  }
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

// torch.nn.utils.clip_grad_norm_ (L2): scales every gradient by min(1, maxNorm / (‖g‖ + 1e-6)),
// the total norm staying on the device (no host sync).
void clipGradients(const std::vector<at::Tensor>& parameters, double maxNorm) {
  std::vector<at::Tensor> norms;
  for (const auto& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().detach().norm(2));
  }
  if (norms.empty()) return;
  const at::Tensor total = at::stack(norms).norm(2);
  const at::Tensor coefficient = at::clamp_max(maxNorm / (total + 1e-6), 1.0);
  for (const auto& p : parameters) {
    if (p.grad().defined()) p.mutable_grad().mul_(coefficient.to(p.grad().device()));
  }
}

// Rows of a batch (its indices, else its inputs' first dimension).
int64_t rowsOf(const data::Batch& batch) {
  for (const at::Tensor* t : {&batch.indices, &batch.inputIds, &batch.features, &batch.targets}) {
    if (t->defined()) return t->dim() == 0 ? 1 : t->size(0);
  }
  return 0;
}

std::string formatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

StepRunner::StepRunner(TrainableModel& model, const TrainerOptions& options, GradientSync& sync)
    : model_(model),
      options_(options),
      sync_(sync),
      schedule_(options.schedule),
      optimizer_(buildOptimizer(options.optimizer, model.parameterGroups())),
      scaler_(options.precision == "fp16") {
  for (const auto& group : optimizer_.optimizer->param_groups()) {
    for (const auto& p : group.params()) allParameters_.push_back(p);
  }
  sharedParameters_ = model_.sharedParameters();
  lastSharedParameters_ = model_.lastSharedParameters();
  std::set<const void*> shared;
  for (const auto& p : sharedParameters_) shared.insert(p.unsafeGetTensorImpl());
  for (const auto& p : allParameters_) {
    if (!shared.count(p.unsafeGetTensorImpl())) taskSpecificParameters_.push_back(p);
  }
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (const auto& group : model_.parameterGroups()) {
    for (size_t i = 0; i < group.parameters.size(); ++i) named.emplace_back(group.parameterNames[i], group.parameters[i]);
  }
  sync_.setParameters(named);
  setTasks(model_.taskNames());
}

void StepRunner::setTasks(const std::vector<std::string>& tasks) {
  if (weighting_ && tasks == tasks_) return;
  tasks_ = tasks;
  std::vector<int64_t> sharedSizes;
  for (const auto& p : sharedParameters_) sharedSizes.push_back(p.numel());
  weighting_ = makeWeighting(options_.weighting, {tasks_, options_.seed, options_.main, sharedSizes});
}

StepReport StepRunner::run(const StepPlan& plan, const BatchSource& nextBatches, int64_t step, int64_t epoch, int64_t totalSteps,
                           bool diagnose) {
  at::AutoGradMode gradMode(true);
  AutocastScope autocast(options_.precision, model_.device());
  model_.module().train();
  for (auto& p : allParameters_) p.mutable_grad() = at::Tensor();

  StepReport report;
  const int64_t micro = options_.accumulateSteps;
  const StepContext context{step, epoch};
  const GradientNeed need = weighting_->capabilities().gradients;
  const bool parallel = sync_.worldSize() > 1;
  const auto& needed = need == GradientNeed::Shared ? sharedParameters_ : lastSharedParameters_;
  weighting_->beginStep();
  const bool afterStep = weighting_->wantsLossesAfterStep();
  std::vector<std::pair<std::map<std::string, data::Batch>, std::map<std::string, int64_t>>> stepBatches;  // for afterStep
  sync_.beginBackward(allParameters_);
  for (int64_t m = 0; m < micro; ++m) {
    auto batches = nextBatches(plan);
    // Data parallel: this rank's shard of each task's rows (possibly none of a task).
    std::map<std::string, int64_t> rows;
    for (auto it = batches.begin(); it != batches.end();) {
      rows[it->first] = rowsOf(it->second);
      report.examples[it->first] += rows[it->first];
      it = parallel && rows[it->first] == 0 ? batches.erase(it) : std::next(it);
    }
    if (diagnose && m == 0 && plan.tasks.size() > 1 && !sharedParameters_.empty() && batches.size() == plan.tasks.size()) {
      std::vector<std::string> names;
      for (int64_t t : plan.tasks) names.push_back(tasks_[t]);
      // The lookahead takes this step's scheduled rate; where the schedule gives 0 (a warm-up's first
      // step) it takes the base rate, since a lookahead of 0 moves nothing and every affinity would read 0.
      const double base = optimizer_.baseLearningRates.front();
      const double scheduled = base * schedule_.factor(step, std::max<int64_t>(totalSteps, 1));
      report.diagnostics = measureDiagnostics(model_, batches, names, sharedParameters_, scheduled > 0 ? scheduled : base);
    }
    std::map<std::string, at::Tensor> taskLosses = batches.empty() ? std::map<std::string, at::Tensor>() : model_.taskLosses(batches);

    std::vector<at::Tensor> raw = planLosses(taskLosses, plan), losses;  // each task's loss, and as the weighting sees it (ramped)
    // Every task's loss value in one transfer (the step's host sync for the losses), averaged over
    // ranks so that every replica weights the same numbers.
    const at::Tensor stacked = globalLossValues(raw, rows, plan, true);
    for (size_t i = 0; i < plan.tasks.size(); ++i) losses.push_back(raw[i] * plan.scales[i]);
    const at::Tensor hostValues = stacked.cpu().contiguous();
    const double* value = hostValues.data_ptr<double>();
    std::vector<double> values;
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      const std::string& task = tasks_[plan.tasks[i]];
      if (!std::isfinite(value[i])) {
        const std::string reason = "step " + std::to_string(step + 1) + ": the loss of task '" + task + "' is " + formatNumber(value[i]);
        if (options_.onNonFinite != "skip") throw NonFiniteLossError("trainer: " + reason);
        for (auto& p : allParameters_) p.mutable_grad() = at::Tensor();
        report.skipped = true;
        report.skippedReason = reason;
        return report;
      }
      values.push_back(value[i] * plan.scales[i]);
      report.losses[task] += value[i] / static_cast<double>(micro);
    }

    at::Tensor taskGradients;
    if (need != GradientNeed::None) {
      // In fp16 each task's gradient comes from its scaled loss, as the objective's gradient does
      // (small gradients would flush to zero in half precision), and is unscaled before the
      // weighting sees it; an overflow skips the step and lowers the scale.
      std::vector<at::Tensor> rows;
      for (const auto& loss : losses) rows.push_back(flatGradients(scaler_.enabled() ? loss * scaler_.scale() : loss, needed));
      taskGradients = at::stack(rows);
      sync_.average(taskGradients);
      if (!scaler_.unscaleTaskGradients(taskGradients)) {
        for (auto& p : allParameters_) p.mutable_grad() = at::Tensor();
        report.skipped = true;
        report.skippedReason = "step " + std::to_string(step + 1) + ": fp16 per-task gradients overflowed; loss scale lowered to " +
                               formatNumber(scaler_.scale());
        return report;
      }
    }
    Combination combination = weighting_->combine(plan.tasks, losses, values, taskGradients, context);
    const double factor = scaler_.scale() / static_cast<double>(micro);
    at::Tensor objective = combination.objective * factor;
    sync_.beforeBackward(m == micro - 1, {objective});
    if (combination.sharedGradient.defined()) {
      // Gradient surgery wrote the shared parameters' gradient; the objective reaches only the rest.
      std::vector<at::Tensor> inputs = taskSpecificParameters_;
      for (const auto& p : weighting_->parameters()) inputs.push_back(p);
      if (!inputs.empty() && objective.requires_grad()) torch::autograd::backward({objective}, {}, c10::nullopt, false, inputs);
      addFlatGradient(sharedParameters_, combination.sharedGradient * factor);
    } else if (objective.requires_grad() || !parallel) {
      objective.backward();
    }
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      report.lambdas[tasks_[plan.tasks[i]]] += combination.lambdas[i] * plan.scales[i] / static_cast<double>(micro);
    }
    if (afterStep) stepBatches.push_back({std::move(batches), std::move(rows)});
  }
  sync_.finishBackward(allParameters_);
  for (const auto& p : weighting_->parameters()) {
    if (p.grad().defined()) sync_.average(p.mutable_grad());
  }
  weighting_->afterBackward();

  if (!scaler_.unscaleAndCheck(allParameters_)) {
    report.skipped = true;
    report.skippedReason =
        "step " + std::to_string(step + 1) + ": fp16 gradients overflowed; loss scale lowered to " + formatNumber(scaler_.scale());
    return report;
  }
  if (options_.clipGradNorm > 0) clipGradients(allParameters_, options_.clipGradNorm);

  const double lrFactor = schedule_.factor(step, std::max<int64_t>(totalSteps, 1));
  for (size_t g = 0; g < optimizer_.baseLearningRates.size(); ++g) {
    setGroupLearningRate(*optimizer_.optimizer, g, optimizer_.baseLearningRates[g] * lrFactor);
  }
  report.learningRate = optimizer_.baseLearningRates.front() * lrFactor;
  optimizer_.optimizer->step();
  if (afterStep) {
    // The same batches through the updated model, without gradients (in training mode, as the
    // authors' loop does it).
    at::NoGradGuard noGrad;
    at::Tensor after = at::zeros({static_cast<int64_t>(plan.tasks.size())}, at::kDouble);
    for (auto& [batches, rows] : stepBatches) {
      std::vector<at::Tensor> raw = planLosses(batches.empty() ? std::map<std::string, at::Tensor>() : model_.taskLosses(batches), plan);
      after += globalLossValues(raw, rows, plan, false).cpu();
    }
    after = (after / static_cast<double>(stepBatches.size())).contiguous();
    std::vector<double> values;
    for (size_t i = 0; i < plan.tasks.size(); ++i) values.push_back(after.data_ptr<double>()[i] * plan.scales[i]);
    weighting_->afterStep(values);
  }
  return report;
}

std::vector<at::Tensor> StepRunner::planLosses(const std::map<std::string, at::Tensor>& taskLosses, const StepPlan& plan) const {
  std::vector<at::Tensor> raw;
  for (size_t i = 0; i < plan.tasks.size(); ++i) {
    auto loss = taskLosses.find(tasks_[plan.tasks[i]]);
    raw.push_back(loss != taskLosses.end() ? loss->second.to(at::kFloat)
                                           : at::zeros({}, at::TensorOptions(at::kFloat).device(model_.device())));
  }
  return raw;
}

at::Tensor StepRunner::globalLossValues(std::vector<at::Tensor>& raw, const std::map<std::string, int64_t>& rows, const StepPlan& plan,
                                        bool rebalance) {
  at::Tensor stacked = at::stack(raw).detach().to(at::kDouble);
  if (sync_.worldSize() <= 1) return stacked;
  // The global loss of a task is the mean over all its rows: Σᵣ nᵣLᵣ / Σᵣ nᵣ. Scaling rank r's
  // loss by wᵣ = nᵣ / meanᵣ(nᵣ) makes the mean over ranks of its value and of its gradient (what
  // the reducer averages) exactly the global ones, also when ranks hold unequal shares.
  const auto k = static_cast<int64_t>(plan.tasks.size());
  at::Tensor counts = at::empty({k}, at::kDouble);
  for (int64_t i = 0; i < k; ++i) {
    auto found = rows.find(tasks_[plan.tasks[i]]);
    counts[i] = static_cast<double>(found == rows.end() ? 0 : found->second);
  }
  at::Tensor both = at::cat({stacked.cpu() * counts, counts});
  sync_.average(both);
  const at::Tensor meanCounts = both.narrow(0, k, k);
  stacked = both.narrow(0, 0, k) / meanCounts;
  if (rebalance) {
    const at::Tensor weights = (counts / meanCounts).contiguous();
    for (int64_t i = 0; i < k; ++i) {
      const double w = weights.data_ptr<double>()[i];
      if (w != 1.0) raw[i] = raw[i] * w;
    }
  }
  return stacked;
}

void StepRunner::saveState(State& state) const {
  saveOptimizerState(*optimizer_.optimizer, state, "optimizer.");
  weighting_->saveState(state, "weighting.");
  scaler_.saveState(state, "scaler.");
}

void StepRunner::loadState(const State& state) {
  loadOptimizerState(*optimizer_.optimizer, state, "optimizer.");
  weighting_->loadState(state, "weighting.");
  scaler_.loadState(state, "scaler.");
}

}  // namespace mtl::train
