// GradNorm (Chen, Badrinarayanan, Lee & Rabinovich 2018). Learned weights wᵢ (start at 1) scale
// the losses, L = Σ wᵢ Lᵢ. Each step, on the last shared layer W:
//   Gᵢ = ‖∇_W wᵢLᵢ‖ = wᵢ‖∇_W Lᵢ‖,  Ḡ = meanᵢ Gᵢ,  L̃ᵢ = Lᵢ(t)/Lᵢ(0),  rᵢ = L̃ᵢ / meanⱼ L̃ⱼ
//   L_grad = Σᵢ |Gᵢ − Ḡ·rᵢ^α|        (the target Ḡ·rᵢ^α held constant, as the paper says)
// so ∂L_grad/∂wᵢ = sign(Gᵢ − targetᵢ)·‖∇_W Lᵢ‖. The wᵢ take an Adam step on that gradient and are
// then renormalized to Σ wᵢ = K. λᵢ = wᵢ as used in this step (before the update).
//
// This follows the paper's Algorithm 1, and differs from LibMTL's GradNorm (LibMTL/weighting/
// GradNorm.py) by design, in four ways: (1) Lᵢ(0) is the loss of the first step here; LibMTL takes
// the mean training loss of the whole first epoch and trains with equal weights through that
// epoch; (2) the weights are wᵢ themselves, renormalised to Σ wᵢ = K after each step (the paper);
// LibMTL parameterises them as K·softmax(s), so they stay positive and sum to K by construction;
// (3) the norms are taken on the last shared layer's gradients (the paper's W, cheaper); LibMTL
// takes every shared parameter's (or the shared representation's with rep_grad); (4) the model's
// shared parameters get Σ wᵢ∇Lᵢ through the objective, as in the paper; LibMTL writes the same sum
// from its per-task gradients.
#include <cmath>

#include "core/train/weighting/own_adam.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

struct GradNormOptions {
  double alpha = 1.5;  // the restoring force's strength
  double lr = 0.025;   // of the weights' Adam
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GradNormOptions, alpha, lr)

class GradNorm : public LossWeighting {
 public:
  GradNorm(size_t tasks, double alpha, double lr)
      : alpha_(alpha),
        adam_(at::ones({static_cast<int64_t>(tasks)}, at::kDouble).requires_grad_(), lr, 0.0),
        initialLosses_(at::zeros({static_cast<int64_t>(tasks)}, at::kDouble)) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>& values,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const int64_t k = static_cast<int64_t>(tasks.size());
    at::Tensor index = at::tensor(tasks, at::kLong);
    at::Tensor weights = adam_.parameter().detach().index_select(0, index);
    at::Tensor lossValues = at::tensor(values, at::kDouble);
    if (!initialized_) {
      initialLosses_.index_copy_(0, index, lossValues);
      initialized_ = true;
    }
    at::Tensor gradNorms = taskGradients.to(at::kDouble).norm(2, {1}).cpu();  // ‖∇_W Lᵢ‖
    at::Tensor g = weights * gradNorms;
    at::Tensor ratios = lossValues / initialLosses_.index_select(0, index);
    at::Tensor relative = ratios / ratios.mean();
    at::Tensor target = g.mean() * relative.pow(alpha_);
    pendingGradient_ = at::zeros_like(adam_.parameter().detach());
    pendingGradient_.index_copy_(0, index, at::sign(g - target) * gradNorms);

    std::vector<double> lambdas(weights.data_ptr<double>(), weights.data_ptr<double>() + k);
    return {weightedSum(losses, lambdas), {}, lambdas};
  }

  void afterBackward() override {
    if (!pendingGradient_.defined()) return;
    adam_.step(pendingGradient_);
    pendingGradient_ = at::Tensor();
    at::NoGradGuard noGrad;
    const at::Tensor& w = adam_.parameter();
    w.mul_(static_cast<double>(w.numel()) / w.sum());
  }

  std::vector<at::Tensor> parameters() const override { return {adam_.parameter()}; }
  void saveState(State& state, const std::string& prefix) const override {
    state[prefix + "weights"] = adam_.parameter().detach().clone();
    state[prefix + "initial_losses"] = initialLosses_.clone();
    putInt(state, prefix + "initialized", initialized_ ? 1 : 0);
    adam_.saveState(state, prefix + "adam.");
  }
  void loadState(const State& state, const std::string& prefix) override {
    at::NoGradGuard noGrad;
    adam_.parameter().copy_(getTensor(state, prefix + "weights"));
    initialLosses_ = getTensor(state, prefix + "initial_losses").clone();
    initialized_ = getIntIn(state, prefix + "initialized", 0, 1) != 0;
    adam_.loadState(state, prefix + "adam.");
  }

 private:
  double alpha_;
  OwnAdam adam_;
  at::Tensor initialLosses_;
  bool initialized_ = false;
  at::Tensor pendingGradient_;
};

const RegisterWeighting<GradNormOptions> registered("gradNorm", WeightingCapabilities{GradientNeed::LastShared, true},
                                                    [](const GradNormOptions& options, const WeightingContext& context) {
                                                      return std::make_unique<GradNorm>(context.taskNames.size(), options.alpha,
                                                                                        options.lr);
                                                    });

}  // namespace
}  // namespace mtl::train
