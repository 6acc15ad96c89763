// FAMO (Liu, Liu, Stone & Liu 2023, Algorithm 1, as the authors' code): task logits ξ (start at 0),
// z = softmax(ξ), and the objective Σᵢ (zᵢ/c)·log(Lᵢ + ε) with c = Σⱼ zⱼ/(Lⱼ + ε) held constant,
// so λᵢ = ∂/∂Lᵢ = zᵢ / (c·(Lᵢ + ε)) and Σ λᵢLᵢ ≈ 1 (the loss scale is normalized away).
// ξ is updated from the change of the log-losses between consecutive steps:
//   δ = log(L(t−1) + ε) − log(L(t) + ε),  ∇ξ = (∂z/∂ξ)ᵀ δ,  then Adam(lr, weight decay γ).
// As in LibMTL, the losses of step t serve as the "after the update" losses of step t−1 (no
// second forward pass); the update happens at the start of step t, before its weights are used.
// Minimum losses are taken as 0. ε = 1e-8.
#include "core/train/weighting/own_adam.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

constexpr double kEpsilon = 1e-8;

struct FamoOptions {
  double lr = 0.025;     // of the logits' Adam
  double gamma = 0.001;  // the logits' weight decay (the paper's γ)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FamoOptions, lr, gamma)

class Famo : public LossWeighting {
 public:
  Famo(size_t tasks, double lr, double gamma)
      : adam_(at::zeros({static_cast<int64_t>(tasks)}, at::kDouble).requires_grad_(), lr, gamma) {}
  Combination combine(const std::vector<int64_t>&, const std::vector<at::Tensor>& losses, const std::vector<double>& values,
                      const at::Tensor&, const StepContext&) override {
    const int64_t k = static_cast<int64_t>(losses.size());
    at::Tensor current = at::tensor(values, at::kDouble);
    if (previousLosses_.defined()) updateLogits(current);
    previousLosses_ = current;

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
  void updateLogits(const at::Tensor& current) {
    at::Tensor delta = at::log(previousLosses_ + kEpsilon) - at::log(current + kEpsilon);
    at::Tensor z = at::softmax(adam_.parameter().detach(), 0);
    // (∂softmax/∂ξ)ᵀ δ = z ⊙ (δ − z·δ)
    at::Tensor gradient = z * (delta - at::dot(z, delta));
    adam_.step(gradient);
  }

  OwnAdam adam_;
  at::Tensor previousLosses_;
};

const RegisterWeighting<FamoOptions> registered("famo", WeightingCapabilities{GradientNeed::None, true},
                                                [](const FamoOptions& options, const WeightingContext& context) {
                                                  return std::make_unique<Famo>(context.taskNames.size(), options.lr, options.gamma);
                                                });

}  // namespace
}  // namespace mtl::train
