// Equal weighting: L = Σ Lᵢ, every λᵢ = 1.
#include "core/train/weighting/methods.h"

namespace mtl::train::weighting {
namespace {

class Equal : public LossWeighting {
 public:
  std::string name() const override { return "equal"; }
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const at::Tensor&,
                      const StepContext&) override {
    std::vector<double> lambdas(tasks.size(), 1.0);
    return {weightedSum(losses, lambdas), {}, lambdas};
  }
};

}  // namespace

std::unique_ptr<LossWeighting> makeEqual(const WeightingConfig&, const Names&) { return std::make_unique<Equal>(); }

}  // namespace mtl::train::weighting
