// Uncertainty weighting (Kendall, Gal & Cipolla 2018): a learned log-variance sᵢ = log σᵢ² per
// task, L = Σ ½·e^(−sᵢ)·Lᵢ + ½·sᵢ (the paper's eq. 7 in the numerically stable log-variance form it
// recommends). λᵢ = ½·e^(−sᵢ). The sᵢ start at `initialLogVariance` and follow their own Adam
// (learning rate `lr`). The paper leaves the start open; the default here is 0 (λ = ½). The authors'
// MTAN code (lorenmt/mtan: logsigma = [-0.5, ...]) and LibMTL (UW.loss_scale) start at −0.5
// (λ = ½e^0.5 ≈ 0.82): `initialLogVariance: -0.5` reproduces them (tested against that start).
#include <algorithm>
#include <cmath>

#include "core/train/weighting/own_adam.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

struct UncertaintyOptions {
  double lr = 0.025;
  double initialLogVariance = 0;  // sᵢ at the first step (the authors' MTAN code and LibMTL: −0.5)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UncertaintyOptions, lr, initialLogVariance)

class Uncertainty : public LossWeighting {
 public:
  Uncertainty(size_t tasks, double lr, double initial)
      : adam_(at::full({static_cast<int64_t>(tasks)}, initial, at::kDouble).requires_grad_(), lr, 0.0), pendingGradient_(tasks, 0.0) {}

  // The objective's weights are plain numbers and sᵢ's gradient is written out on the host from
  // the loss values the trainer read (∂/∂sᵢ [½e^(−sᵢ)Lᵢ + ½sᵢ] = ½ − ½e^(−sᵢ)Lᵢ), the same numbers
  // autograd computes from that expression. Autograd through the (CPU, double) sᵢ would put a
  // CPU leaf into the losses' graph: on CUDA its backward copies two scalar gradients per task back
  // to the host in the middle of backward, each a host sync.
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>& values,
                      const at::Tensor&, const StepContext&) override {
    const at::Tensor logVariance = adam_.parameter().detach().contiguous();
    const double* s = logVariance.data_ptr<double>();
    std::vector<double> lambdas;
    double constant = 0;  // Σ ½sᵢ: no gradient reaches the model through it
    for (size_t i = 0; i < tasks.size(); ++i) {
      const double lambda = 0.5 * std::exp(-s[tasks[i]]);
      lambdas.push_back(lambda);
      constant += 0.5 * s[tasks[i]];
      pendingGradient_[tasks[i]] += -(values[i] * lambda) + 0.5;
    }
    ++pendingCombinations_;
    return {weightedSum(losses, lambdas) + constant, {}, lambdas};
  }

  void beginStep() override {
    std::fill(pendingGradient_.begin(), pendingGradient_.end(), 0.0);
    pendingCombinations_ = 0;
  }

  // The mean over the step's micro-batches, as the objective's backward (each micro-batch's
  // objective divided by their count) accumulates it.
  void afterBackward() override {
    at::Tensor grad = at::zeros_like(adam_.parameter().detach());
    if (pendingCombinations_ > 0) {
      grad = at::tensor(pendingGradient_, at::kDouble) / static_cast<double>(pendingCombinations_);
    }
    adam_.step(grad);
    std::fill(pendingGradient_.begin(), pendingGradient_.end(), 0.0);
    pendingCombinations_ = 0;
  }

  std::vector<at::Tensor> parameters() const override { return {adam_.parameter()}; }
  void saveState(State& state, const std::string& prefix) const override {
    state[prefix + "log_variance"] = adam_.parameter().detach().clone();
    adam_.saveState(state, prefix + "adam.");
  }
  void loadState(const State& state, const std::string& prefix) override {
    at::NoGradGuard noGrad;
    adam_.parameter().copy_(getTensor(state, prefix + "log_variance"));
    adam_.loadState(state, prefix + "adam.");
  }

 private:
  OwnAdam adam_;
  std::vector<double> pendingGradient_;  // Σ over this step's combinations of ∂/∂s
  int64_t pendingCombinations_ = 0;
};

const RegisterWeighting<UncertaintyOptions> registered("uncertainty", WeightingCapabilities{},
                                                       [](const UncertaintyOptions& options, const WeightingContext& context) {
                                                         return std::make_unique<Uncertainty>(context.taskNames.size(), options.lr,
                                                                                              options.initialLogVariance);
                                                       });

}  // namespace
}  // namespace mtl::train
