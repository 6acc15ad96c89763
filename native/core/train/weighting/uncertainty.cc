// Uncertainty weighting (Kendall, Gal & Cipolla 2018): a learned log-variance sᵢ = log σᵢ² per
// task, L = Σ ½·e^(−sᵢ)·Lᵢ + ½·sᵢ (the paper's eq. 7 in the numerically stable log-variance form it
// recommends). λᵢ = ½·e^(−sᵢ). The sᵢ start at 0 and follow their own Adam (learning rate `lr`).
#include "core/train/weighting/own_adam.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

struct UncertaintyOptions {
  double lr = 0.025;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UncertaintyOptions, lr)

class Uncertainty : public LossWeighting {
 public:
  Uncertainty(size_t tasks, double lr) : adam_(at::zeros({static_cast<int64_t>(tasks)}, at::kDouble).requires_grad_(), lr, 0.0) {}

  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor&, const StepContext&) override {
    const at::Tensor& logVariance = adam_.parameter();
    // λ read from the (CPU, double) log-variances directly: no tensor round trip per task.
    const at::Tensor values = logVariance.detach().contiguous();
    const double* s = values.data_ptr<double>();
    at::Tensor total;
    std::vector<double> lambdas;
    for (size_t i = 0; i < tasks.size(); ++i) {
      at::Tensor logVar = logVariance[tasks[i]];
      at::Tensor weight = 0.5 * at::exp(-logVar);
      at::Tensor term = weight.to(losses[i].scalar_type()) * losses[i] + (0.5 * logVar).to(losses[i].scalar_type());
      total = total.defined() ? total + term : term;
      lambdas.push_back(0.5 * std::exp(-s[tasks[i]]));
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

const RegisterWeighting<UncertaintyOptions> registered("uncertainty", WeightingCapabilities{},
                                                       [](const UncertaintyOptions& options, const WeightingContext& context) {
                                                         return std::make_unique<Uncertainty>(context.taskNames.size(), options.lr);
                                                       });

}  // namespace
}  // namespace mtl::train
