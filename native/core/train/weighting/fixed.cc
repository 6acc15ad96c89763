// Fixed weights: L = Σ λᵢ Lᵢ with the λᵢ the user gave (one per task; the TypeScript edge refuses
// a missing or unknown task).
#include <map>

#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

struct FixedOptions {
  std::map<std::string, double> lambdas;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FixedOptions, lambdas)

class Fixed : public LossWeighting {
 public:
  explicit Fixed(std::vector<double> lambdas) : lambdas_(std::move(lambdas)) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor&, const StepContext&) override {
    std::vector<double> lambdas;
    for (int64_t task : tasks) lambdas.push_back(lambdas_[task]);
    return {weightedSum(losses, lambdas), {}, lambdas};
  }

 private:
  std::vector<double> lambdas_;
};

const RegisterWeighting<FixedOptions> registered("fixed", WeightingCapabilities{},
                                                 [](const FixedOptions& options, const WeightingContext& context) {
                                                   std::vector<double> lambdas;
                                                   for (const auto& task : context.taskNames) {
                                                     auto it = options.lambdas.find(task);
                                                     if (it == options.lambdas.end())
                                                       throw std::invalid_argument("weighting.fixed: no λ for task '" + task + "'");
                                                     lambdas.push_back(it->second);
                                                   }
                                                   return std::make_unique<Fixed>(std::move(lambdas));
                                                 });

}  // namespace
}  // namespace mtl::train
