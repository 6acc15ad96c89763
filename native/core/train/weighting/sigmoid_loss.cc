// The product brief's rule: λᵢ = 1 / (1 + e^(−Lᵢ)), computed from the loss's value (no gradient
// flows through λ, so a task cannot lower its loss by shrinking its own weight).
#include <cmath>

#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

class SigmoidLoss : public LossWeighting {
 public:
  Combination combine(const std::vector<int64_t>&, const std::vector<at::Tensor>& losses, const std::vector<double>& values,
                      const at::Tensor&, const StepContext&) override {
    std::vector<double> lambdas;
    for (double value : values) lambdas.push_back(1.0 / (1.0 + std::exp(-value)));
    return {weightedSum(losses, lambdas), {}, lambdas};
  }
};

const RegisterWeighting<NoOptions> registered("sigmoidLoss", WeightingCapabilities{},
                                              [](const NoOptions&, const WeightingContext&) { return std::make_unique<SigmoidLoss>(); });

}  // namespace
}  // namespace mtl::train
