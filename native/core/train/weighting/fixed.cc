// Fixed weights: L = Σ λᵢ Lᵢ with the λᵢ the user gave (one per task, none missing).
#include <algorithm>
#include <stdexcept>

#include "core/train/weighting/methods.h"

namespace mtl::train::weighting {
namespace {

class Fixed : public LossWeighting {
 public:
  explicit Fixed(std::vector<double> weights) : weights_(std::move(weights)) {}
  std::string name() const override { return "fixed"; }
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const at::Tensor&,
                      const StepContext&) override {
    std::vector<double> lambdas;
    for (int64_t task : tasks) lambdas.push_back(weights_[task]);
    return {weightedSum(losses, lambdas), {}, lambdas};
  }

 private:
  std::vector<double> weights_;
};

}  // namespace

std::unique_ptr<LossWeighting> makeFixed(const WeightingConfig& config, const Names& tasks) {
  std::vector<double> weights;
  for (const auto& task : tasks) {
    auto it = config.weights.find(task);
    if (it == config.weights.end()) throw std::invalid_argument("weighting.fixed: no weight for task '" + task + "'");
    if (!(it->second >= 0)) throw std::invalid_argument("weighting.fixed: the weight of '" + task + "' must be >= 0");
    weights.push_back(it->second);
  }
  for (const auto& [task, weight] : config.weights) {
    if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) {
      throw std::invalid_argument("weighting.fixed: '" + task + "' is not a task of the model");
    }
  }
  return std::make_unique<Fixed>(std::move(weights));
}

}  // namespace mtl::train::weighting
