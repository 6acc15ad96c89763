// OL-AUX (Lin, Baweja, Kantor & Held 2019, "Adaptive auxiliary task weighting for reinforcement
// learning", Algorithm 1): the objective Σ main Lₘ + Σₐ wₐLₐ, with the auxiliary weights learned
// online from how much each auxiliary gradient helps the main loss. The main loss after N steps
// falls, to first order, by α Σₜ gₘ(t)·gₐ(t) per unit of wₐ, so every `horizon` N steps
//   wₐ ← wₐ + lr · Σ_{the last N steps} gₘ·gₐ         (gₘ = Σ of the main tasks' gradients)
// on the shared parameters' gradients; `lr` is the paper's β·α (the weights' rate times the
// model's). Unlike the paper, wₐ is kept ≥ 0 (a negative weight would train the model to raise an
// auxiliary loss). wₐ start at 1. λ: 1 for a main task, wₐ for an auxiliary one. With
// accumulateSteps > 1 each step's dot is the mean over its micro-batches.
#include <algorithm>

#include "core/train/weighting/auxiliary.h"

namespace mtl::train {
namespace {

struct OlAuxOptions {
  double lr = 0.1;      // β·α
  int64_t horizon = 5;  // N: steps between weight updates
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(OlAuxOptions, lr, horizon)

class OlAux : public LossWeighting {
 public:
  OlAux(const WeightingContext& context, const OlAuxOptions& options)
      : main_(context), options_(options), weights_(context.taskNames.size(), 1.0), pending_(context.taskNames.size(), 0.0) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const std::vector<double> dots = main_.mainDots(tasks, MainTasks::gram(taskGradients));
    std::vector<double> lambdas;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const bool isMain = main_.isMain(tasks[i]);
      lambdas.push_back(isMain ? 1.0 : weights_[tasks[i]]);
      if (!isMain) stepDots_.emplace_back(tasks[i], dots[i]);
    }
    ++combinations_;
    return {weightedSum(losses, lambdas), {}, lambdas};
  }

  void beginStep() override {
    stepDots_.clear();
    combinations_ = 0;
  }
  void afterBackward() override {
    for (const auto& [task, dot] : stepDots_) pending_[task] += dot / static_cast<double>(combinations_);
    stepDots_.clear();
    combinations_ = 0;
    if (++stepsSinceUpdate_ < options_.horizon) return;
    for (size_t t = 0; t < weights_.size(); ++t) {
      weights_[t] = std::max(0.0, weights_[t] + options_.lr * pending_[t]);
      pending_[t] = 0;
    }
    stepsSinceUpdate_ = 0;
  }

  void saveState(State& state, const std::string& prefix) const override {
    state[prefix + "weights"] = at::tensor(weights_, at::kDouble);
    state[prefix + "pending_dots"] = at::tensor(pending_, at::kDouble);
    putInt(state, prefix + "steps_since_update", stepsSinceUpdate_);
  }
  void loadState(const State& state, const std::string& prefix) override {
    const at::Tensor like = at::zeros({static_cast<int64_t>(weights_.size())}, at::kDouble);
    const at::Tensor w = getTensorLike(state, prefix + "weights", like).contiguous();
    const at::Tensor p = getTensorLike(state, prefix + "pending_dots", like).contiguous();
    weights_.assign(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
    pending_.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    stepsSinceUpdate_ = getIntIn(state, prefix + "steps_since_update", 0, options_.horizon - 1);
  }

 private:
  MainTasks main_;
  OlAuxOptions options_;
  std::vector<double> weights_;                       // per task (main tasks' unused)
  std::vector<double> pending_;                       // Σ of gₘ·gₐ since the last update
  std::vector<std::pair<int64_t, double>> stepDots_;  // this step's, per micro-batch
  int64_t combinations_ = 0;
  int64_t stepsSinceUpdate_ = 0;
};

const RegisterWeighting<OlAuxOptions> registered("olAux", WeightingCapabilities{GradientNeed::Shared, true, true},
                                                 [](const OlAuxOptions& options, const WeightingContext& context) {
                                                   return std::make_unique<OlAux>(context, options);
                                                 });

}  // namespace
}  // namespace mtl::train
