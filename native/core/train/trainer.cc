#include "core/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace mtl::train {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size(); ++i) out << (i ? "," : "") << names[i];
  return out.str();
}

}  // namespace

Trainer::Trainer(std::shared_ptr<TrainableModel> model, TrainerOptions options, std::shared_ptr<GradientSync> sync)
    : model_(std::move(model)), options_(std::move(options)), sync_(sync ? std::move(sync) : std::make_shared<SingleProcess>()) {
  runner_ = std::make_unique<StepRunner>(*model_, options_, *sync_);
}

Trainer::~Trainer() = default;

template <typename Body>
auto Trainer::failingTogether(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& error) {
    sync_->abort(error.what());
    throw;
  }
}

FitResult Trainer::fit(const Datasets& trainSets, const Datasets& evalSets, const FitSettings& settings, const EventSink& onEvent,
                       const std::atomic<bool>& abortRequested) {
  return failingTogether([&] { return runFit(trainSets, evalSets, settings, onEvent, abortRequested); });
}

bool Trainer::anyRank(bool flag) {
  if (sync_->worldSize() == 1) return flag;
  at::Tensor value = at::full({1}, flag ? 1.0 : 0.0, at::kDouble);
  sync_->average(value);
  return value.item<double>() > 0;
}

void Trainer::shareWeights() {
  std::vector<at::Tensor> tensors;
  for (const auto& item : model_->module().named_parameters(true)) tensors.push_back(item.value().detach());
  for (const auto& item : model_->module().named_buffers(true)) tensors.push_back(item.value().detach());
  for (const auto& p : runner_->weighting().parameters()) tensors.push_back(p.detach());
  sync_->broadcast(tensors);
  weightsShared_ = true;
}

StepReport Trainer::step(const std::map<std::string, data::Batch>& batches) {
  return failingTogether([&] {
    if (sync_->worldSize() > 1 && !weightsShared_) {
      // The options first (different models would broadcast into different shapes), then the weights.
      sync_->agree("the first Trainer.step", "step");
      shareWeights();
    }
    return stepOnce(batches);
  });
}

StepReport Trainer::stepOnce(const std::map<std::string, data::Batch>& batches) {
  // Every task of the model keeps its weighting state; the step trains the tasks given.
  runner_->setTasks(model_->taskNames());
  const auto& tasks = runner_->tasks();
  StepPlan plan;
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto batch = batches.find(tasks[i]);
    if (batch == batches.end()) continue;
    plan.tasks.push_back(static_cast<int64_t>(i));
    plan.scales.push_back(1.0);
    plan.rows.push_back(batch->second.indices.defined() ? batch->second.indices.numel() : 0);
  }
  StepReport report = runner_->run(
      plan, [&](const StepPlan&) { return batches; }, step_, 0, std::max<int64_t>(step_ + 1, 1));
  ++step_;
  return report;
}

Metrics Trainer::evaluate(const Datasets& evalSets) {
  return failingTogether([&] {
    return train::evaluate(*model_, evalSets,
                           {options_.evalBatchSize > 0 ? options_.evalBatchSize : options_.batchSize, options_.precision}, sync_.get());
  });
}

Checkpoint Trainer::capture() const {
  Checkpoint checkpoint;
  State& state = checkpoint.state;
  for (const auto& item : model_->module().named_parameters(true)) state["model." + item.key()] = item.value().detach().clone();
  for (const auto& item : model_->module().named_buffers(true)) state["model." + item.key()] = item.value().detach().clone();
  runner_->saveState(state);
  putInt(state, "loop.step", step_);
  state["rng.cpu"] = at::detail::getDefaultCPUGenerator().get_state();
  if (sync_->worldSize() > 1) {
    // Data parallel: each rank's generator (dropout draws masks for its own rows), so that a resume
    // on as many ranks gives each its own back (a collective: every rank captures).
    state[kRankGenerators] = sync_->gatherRows(state["rng.cpu"].to(at::kLong).unsqueeze(0)).to(at::kByte);
  }
  // A CUDA model's dropout draws from its device's generator: saved too, so a resumed CUDA run
  // draws the same masks.
  if (model_->device().is_cuda()) state["rng.cuda"] = at::globalContext().defaultGenerator(model_->device()).get_state();
  checkpoint.metadata["tasks"] = joined(runner_->tasks());
  checkpoint.metadata["optimizer"] = runner_->optimizerKind();
  checkpoint.metadata["weighting"] = runner_->weighting().name();
  checkpoint.metadata["parameterGroups"] = runner_->parameterGroups();
  return checkpoint;
}

void Trainer::restore(const Checkpoint& checkpoint) {
  // The checkpoint's entries were checked as a whole (checkAgainst); the owners check their ranges
  // while restoring. A refusal part way puts back the state the run had: nothing changes.
  const Checkpoint before = capture();
  try {
    apply(checkpoint);
  } catch (...) {
    apply(before);
    throw;
  }
}

void Trainer::apply(const Checkpoint& checkpoint) {
  requireMetadata(checkpoint, "tasks", joined(runner_->tasks()));
  requireMetadata(checkpoint, "optimizer", runner_->optimizerKind());
  requireMetadata(checkpoint, "weighting", runner_->weighting().name());
  const State& state = checkpoint.state;
  auto parameters = model_->module().named_parameters(true);
  auto buffers = model_->module().named_buffers(true);
  for (const auto* items : {&parameters, &buffers}) {
    for (const auto& item : *items) getTensorLike(state, "model." + item.key(), item.value().cpu());
  }
  const int64_t step = getIntIn(state, "loop.step", 0, std::numeric_limits<int64_t>::max());
  at::Tensor cpuRng = getTensorLike(state, "rng.cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (hasKey(state, kRankGenerators)) {
    // Data parallel: this rank's own generator when the run had as many ranks; otherwise rank 0's.
    const at::Tensor& ranks = getTensor(state, kRankGenerators);
    if (ranks.dim() == 2 && ranks.size(0) == sync_->worldSize() && ranks.size(1) == cpuRng.numel()) cpuRng = ranks[sync_->rank()].clone();
  }
  // Refused (libtorch checks an mt19937 state) before anything changes.
  at::detail::createCPUGenerator().set_state(cpuRng);
  {
    at::NoGradGuard noGrad;
    for (const auto* items : {&parameters, &buffers}) {
      for (const auto& item : *items) item.value().copy_(state.at("model." + item.key()));
    }
  }
  runner_->loadState(state);
  step_ = step;
  at::Generator globalGenerator = at::detail::getDefaultCPUGenerator();  // a handle sharing the global generator
  globalGenerator.set_state(cpuRng);
  if (model_->device().is_cuda() && hasKey(state, "rng.cuda")) {
    at::Generator cudaGenerator = at::globalContext().defaultGenerator(model_->device());
    std::lock_guard<std::mutex> lock(cudaGenerator.mutex());
    cudaGenerator.set_state(getTensor(state, "rng.cuda"));
  }
}

void Trainer::saveCheckpoint(const std::string& path) {
  failingTogether([&] {
    // Data parallel: every rank calls it, rank 0 writes.
    Checkpoint checkpoint = capture();
    if (sync_->rank() == 0) writeCheckpoint(path, checkpoint);
    sync_->barrier();
  });
}

void Trainer::loadCheckpoint(const std::string& path) {
  // Restored when the next fit starts, once its tasks, data and sampler exist and the whole
  // checkpoint can be checked against them.
  pending_ = readCheckpoint(path);
}

}  // namespace mtl::train
