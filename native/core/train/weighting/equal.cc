// Equal weighting: L = Σ Lᵢ, every λᵢ = 1.
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

class Equal : public LossWeighting {
 public:
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor&, const StepContext&) override {
    std::vector<double> lambdas(tasks.size(), 1.0);
    return {weightedSum(losses, lambdas), {}, lambdas};
  }
};

const RegisterWeighting<NoOptions> registered("equal", WeightingCapabilities{},
                                              [](const NoOptions&, const WeightingContext&) { return std::make_unique<Equal>(); });

}  // namespace
}  // namespace mtl::train
