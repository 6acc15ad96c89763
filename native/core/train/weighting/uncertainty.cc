// Uncertainty weighting (Kendall, Gal & Cipolla 2018): a learned log-variance sᵢ = log σᵢ² per
// task, L = Σ ½·e^(−sᵢ)·Lᵢ + ½·sᵢ (the paper's eq. 7 in the numerically stable log-variance form it
// recommends). λᵢ = ½·e^(−sᵢ). The sᵢ start at 0 and follow their own Adam.
#include "core/train/weighting/methods.h"

namespace mtl::train::weighting {
namespace {

class Uncertainty : public LossWeighting {
 public:
  Uncertainty(size_t tasks, double lr) : adam_(at::zeros({static_cast<int64_t>(tasks)}, at::kDouble).requires_grad_(), lr, 0.0) {}
  std::string name() const override { return "uncertainty"; }

  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const at::Tensor&,
                      const StepContext&) override {
    const at::Tensor& logVariance = adam_.parameter();
    at::Tensor total;
    std::vector<double> lambdas;
    for (size_t i = 0; i < tasks.size(); ++i) {
      at::Tensor s = logVariance[tasks[i]];
      at::Tensor weight = 0.5 * at::exp(-s);
      at::Tensor term = (weight.to(losses[i].scalar_type()) * losses[i] + (0.5 * s).to(losses[i].scalar_type()));
      total = total.defined() ? total + term : term;
      lambdas.push_back(weight.item<double>());
    }
    return {total, {}, lambdas};
  }

  void afterBackward() override {
    const at::Tensor& logVariance = adam_.parameter();
    at::Tensor grad = logVariance.grad().defined() ? logVariance.grad() : at::zeros_like(logVariance);
    adam_.step(grad);
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
};

}  // namespace

std::unique_ptr<LossWeighting> makeUncertainty(const WeightingConfig& config, const Names& tasks) {
  return std::make_unique<Uncertainty>(tasks.size(), config.lr);
}

}  // namespace mtl::train::weighting
