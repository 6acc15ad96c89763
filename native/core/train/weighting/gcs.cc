// Gradient cosine similarity, GCS (Du, Czarnecki, Jayakumar, Farajtabar, Pascanu & Lakshminarayanan
// 2018, "Adapting auxiliary losses using gradient similarity", Algorithm 1 and its weighted
// variant): the trainer's `main` tasks are trained as they are; an auxiliary task's gradient of the
// shared parameters counts only as far as it agrees with the main gradient gₘ (Σ of the main tasks'):
//   shared gradient = gₘ + Σₐ f(cos(gₘ, gₐ))·gₐ,
//   f(c) = 1 if c > 0 else 0           (unweighted, the default)
//   f(c) = max(0, c)                    (`weighted: true`)
// The auxiliary heads (task-specific parameters) are trained by their own losses, unweighted.
// λ: 1 for a main task, f(cos) for an auxiliary one (the factor its shared gradient had this step).
#include <cmath>

#include "core/train/weighting/auxiliary.h"

namespace mtl::train {
namespace {

struct GcsOptions {
  bool weighted = false;  // f = max(0, cos) instead of the indicator cos > 0
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GcsOptions, weighted)

class Gcs : public LossWeighting {
 public:
  Gcs(const WeightingContext& context, bool weighted) : main_(context), weighted_(weighted) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const at::Tensor a = MainTasks::gram(taskGradients);
    const std::vector<double> dots = main_.mainDots(tasks, a);
    const double mainNorm = std::sqrt(main_.mainNormSquared(tasks, a));
    const int64_t k = a.size(0);
    std::vector<double> coefficients(k, 1.0);
    for (int64_t i = 0; i < k; ++i) {
      if (main_.isMain(tasks[i])) continue;
      const double norms = mainNorm * std::sqrt(a.data_ptr<double>()[i * k + i]);
      const double cosine = norms > 0 ? dots[i] / norms : 0.0;
      coefficients[i] = weighted_ ? std::max(0.0, cosine) : (cosine > 0 ? 1.0 : 0.0);
    }
    return {weightedSum(losses, std::vector<double>(k, 1.0)), MainTasks::combineRows(coefficients, taskGradients), coefficients};
  }

 private:
  MainTasks main_;
  bool weighted_;
};

const RegisterWeighting<GcsOptions> registered("gcs", WeightingCapabilities{GradientNeed::Shared, true, true},
                                               [](const GcsOptions& options, const WeightingContext& context) {
                                                 return std::make_unique<Gcs>(context, options.weighted);
                                               });

}  // namespace
}  // namespace mtl::train
