// FAMO (Liu, Liu, Stone & Liu 2023, Algorithm 1, as the authors' code Cranial-XIX/FAMO
// methods/weight_methods.py): task logits ξ (start at 0), z = softmax(ξ), and the objective
// Σᵢ (zᵢ/c)·log(Lᵢ + ε) with c = Σⱼ zⱼ/(Lⱼ + ε) held constant, so λᵢ = ∂/∂Lᵢ = zᵢ / (c·(Lᵢ + ε))
// and Σ λᵢLᵢ ≈ 1 (the loss scale is normalized away). ξ is updated from the decrease of the
// log-losses,  δ = log(L_before + ε) − log(L_after + ε),  ∇ξ = (∂z/∂ξ)ᵀ δ,  then Adam(lr, weight
// decay γ). Which losses are "after" is `update`:
//   sameBatch         (default, the authors' and LibMTL's loops) the same batch's losses through
//                     the model once more, without gradients, after the optimizer step: one more
//                     forward per step;
//   consecutiveSteps  the losses of the next step (another batch) stand in for them, and ξ is
//                     updated at the start of that step: no extra forward, a noisier δ.
// With accumulateSteps > 1, L_before and L_after are the means over the step's micro-batches.
// Minimum losses are taken as 0. ε = 1e-8.
#include "core/train/weighting/own_adam.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

constexpr double kEpsilon = 1e-8;

struct FamoOptions {
  double lr = 0.025;                 // of the logits' Adam
  double gamma = 0.001;              // the logits' weight decay (the paper's γ)
  std::string update = "sameBatch";  // sameBatch | consecutiveSteps
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FamoOptions, lr, gamma, update)

class Famo : public LossWeighting {
 public:
  Famo(size_t tasks, const FamoOptions& options)
      : adam_(at::zeros({static_cast<int64_t>(tasks)}, at::kDouble).requires_grad_(), options.lr, options.gamma),
        sameBatch_(options.update == "sameBatch") {
    if (!sameBatch_ && options.update != "consecutiveSteps") {
      throw std::invalid_argument("weighting.famo.update: expected 'sameBatch' or 'consecutiveSteps', got '" + options.update + "'");
    }
  }
  Combination combine(const std::vector<int64_t>&, const std::vector<at::Tensor>& losses, const std::vector<double>& values,
                      const at::Tensor&, const StepContext&) override {
    const int64_t k = static_cast<int64_t>(losses.size());
    at::Tensor current = at::tensor(values, at::kDouble);
    if (sameBatch_) {
      before_ = before_.defined() ? before_ + current : current;
      ++beforeCount_;
    } else {
      if (previousLosses_.defined()) updateLogits(previousLosses_, current);
      previousLosses_ = current;
    }

    at::Tensor z = at::softmax(adam_.parameter().detach(), 0);
    at::Tensor shifted = current + kEpsilon;
    const double c = (z / shifted).sum().item<double>();
    at::Tensor coefficients = (z / c).contiguous();  // of log(Lᵢ + ε)
    const double* coefficient = coefficients.data_ptr<double>();
    at::Tensor total;
    for (int64_t i = 0; i < k; ++i) {
      at::Tensor term = at::log(losses[i] + kEpsilon) * coefficient[i];
      total = total.defined() ? total + term : term;
    }
    at::Tensor lambdas = coefficients / shifted;
    return {total, {}, std::vector<double>(lambdas.data_ptr<double>(), lambdas.data_ptr<double>() + k)};
  }

  void beginStep() override {
    before_ = at::Tensor();
    beforeCount_ = 0;
  }
  bool wantsLossesAfterStep() const override { return sameBatch_; }
  void afterStep(const std::vector<double>& lossValues) override {
    if (!before_.defined()) return;
    updateLogits(before_ / static_cast<double>(beforeCount_), at::tensor(lossValues, at::kDouble));
    before_ = at::Tensor();
    beforeCount_ = 0;
  }

  std::vector<at::Tensor> parameters() const override { return {adam_.parameter()}; }
  void saveState(State& state, const std::string& prefix) const override {
    state[prefix + "logits"] = adam_.parameter().detach().clone();
    // Always written (zeros before the first step, flagged), so every checkpoint has the same entries.
    const auto tasks = adam_.parameter().size(0);
    state[prefix + "previous_losses"] = previousLosses_.defined() ? previousLosses_.clone() : at::zeros({tasks}, at::kDouble);
    putInt(state, prefix + "has_previous_losses", previousLosses_.defined() ? 1 : 0);
    adam_.saveState(state, prefix + "adam.");
  }
  void loadState(const State& state, const std::string& prefix) override {
    at::NoGradGuard noGrad;
    adam_.parameter().copy_(getTensor(state, prefix + "logits"));
    const bool hasPrevious = getIntIn(state, prefix + "has_previous_losses", 0, 1) != 0;
    previousLosses_ = hasPrevious ? getTensor(state, prefix + "previous_losses").clone() : at::Tensor();
    adam_.loadState(state, prefix + "adam.");
  }

 private:
  void updateLogits(const at::Tensor& before, const at::Tensor& after) {
    at::Tensor delta = at::log(before + kEpsilon) - at::log(after + kEpsilon);
    at::Tensor z = at::softmax(adam_.parameter().detach(), 0);
    // (∂softmax/∂ξ)ᵀ δ = z ⊙ (δ − z·δ)
    at::Tensor gradient = z * (delta - at::dot(z, delta));
    adam_.step(gradient);
  }

  OwnAdam adam_;
  bool sameBatch_;
  at::Tensor previousLosses_;  // consecutiveSteps: the last step's losses
  at::Tensor before_;          // sameBatch: Σ of this step's micro-batch losses
  int64_t beforeCount_ = 0;
};

const RegisterWeighting<FamoOptions> registered("famo", WeightingCapabilities{GradientNeed::None, true},
                                                [](const FamoOptions& options, const WeightingContext& context) {
                                                  return std::make_unique<Famo>(context.taskNames.size(), options);
                                                });

}  // namespace
}  // namespace mtl::train
