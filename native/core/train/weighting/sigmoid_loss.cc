// The product brief's rule: λᵢ = 1 / (1 + e^(−Lᵢ)), computed from the loss's value (no gradient
// flows through λ, so a task cannot lower its loss by shrinking its own weight).
#include <cmath>

#include "core/train/weighting/methods.h"

namespace mtl::train::weighting {
namespace {

class SigmoidLoss : public LossWeighting {
 public:
  std::string name() const override { return "sigmoidLoss"; }
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const at::Tensor&,
                      const StepContext&) override {
    std::vector<double> lambdas;
    for (const auto& loss : losses) lambdas.push_back(1.0 / (1.0 + std::exp(-loss.item<double>())));
    return {weightedSum(losses, lambdas), {}, lambdas};
  }
};

}  // namespace

std::unique_ptr<LossWeighting> makeSigmoidLoss(const WeightingConfig&, const Names&) {
  return std::make_unique<SigmoidLoss>();
}

}  // namespace mtl::train::weighting
