// One-sided projection: PCGrad's projection (Yu et al. 2020) applied one way only, toward the
// trainer's `main` tasks. An auxiliary task's gradient of the shared parameters that conflicts with
// the main gradient gₘ (Σ of the main tasks') is projected onto gₘ's normal plane; the main
// gradient is never changed:
//   gₐ ← gₐ − (min(0, gₐ·gₘ) / ‖gₘ‖²) gₘ,   shared gradient = gₘ + Σₐ gₐ.
// Every auxiliary gradient is compared with the original gₘ (not with each other), so the order
// does not matter. Task-specific parameters get the gradient of Σ Lᵢ; λᵢ = 1.
#include "core/train/weighting/auxiliary.h"

namespace mtl::train {
namespace {

class OneSidedProjection : public LossWeighting {
 public:
  explicit OneSidedProjection(const WeightingContext& context) : main_(context) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const at::Tensor a = MainTasks::gram(taskGradients);
    const std::vector<double> dots = main_.mainDots(tasks, a);
    const double mainNormSquared = main_.mainNormSquared(tasks, a);
    const int64_t k = a.size(0);
    // Σₐ gₐ − sₐ gₘ with sₐ = min(0, gₐ·gₘ)/‖gₘ‖²: each main row's coefficient is 1 − Σₐ sₐ.
    double removed = 0;
    for (int64_t i = 0; i < k; ++i) {
      if (!main_.isMain(tasks[i]) && dots[i] < 0 && mainNormSquared > 0) removed += dots[i] / mainNormSquared;
    }
    std::vector<double> coefficients(k, 1.0);
    for (int64_t i = 0; i < k; ++i) {
      if (main_.isMain(tasks[i])) coefficients[i] -= removed;
    }
    const std::vector<double> lambdas(k, 1.0);
    return {weightedSum(losses, lambdas), MainTasks::combineRows(coefficients, taskGradients), lambdas};
  }

 private:
  MainTasks main_;
};

const RegisterWeighting<NoOptions> registered("oneSidedProjection", WeightingCapabilities{GradientNeed::Shared, true, true},
                                              [](const NoOptions&, const WeightingContext& context) {
                                                return std::make_unique<OneSidedProjection>(context);
                                              });

}  // namespace
}  // namespace mtl::train
