// PCGrad (Yu et al. 2020, Algorithm 1): each task's gradient of the shared parameters is projected
// onto the normal plane of every other task's gradient it conflicts with (negative dot product),
// the others visited in a random order; the shared gradient is the sum of the projected ones.
//   gᵢ ← gᵢ − (gᵢ·gⱼ / ‖gⱼ‖²) gⱼ   if gᵢ·gⱼ < 0
// The order comes from the method's own generator (seeded, checkpointed): for task i, the tasks of
// randperm(K) other than i. Task-specific parameters get the gradient of Σ Lᵢ; λᵢ = 1.
#include <ATen/CPUGeneratorImpl.h>

#include "core/train/weighting/methods.h"

namespace mtl::train::weighting {
namespace {

class Pcgrad : public LossWeighting {
 public:
  explicit Pcgrad(uint64_t seed) : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
  std::string name() const override { return "pcgrad"; }
  GradientNeed gradientNeed() const override { return GradientNeed::Shared; }
  bool needsAllTasksEachStep() const override { return true; }

  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const int64_t k = taskGradients.size(0);
    at::Tensor projected = taskGradients.clone();
    at::Tensor squaredNorms = (taskGradients * taskGradients).sum(1);
    for (int64_t i = 0; i < k; ++i) {
      at::Tensor order = at::randperm(k, generator_, at::TensorOptions(at::kLong));
      for (int64_t position = 0; position < k; ++position) {
        const int64_t j = order[position].item<int64_t>();
        if (j == i) continue;
        at::Tensor dot = at::dot(projected[i], taskGradients[j]);
        if (dot.item<double>() < 0) projected[i].sub_(taskGradients[j] * (dot / squaredNorms[j]));
      }
    }
    std::vector<double> lambdas(tasks.size(), 1.0);
    return {weightedSum(losses, lambdas), projected.sum(0), lambdas};
  }

  void saveState(State& state, const std::string& prefix) const override {
    state[prefix + "generator"] = generator_.get_state();
  }
  void loadState(const State& state, const std::string& prefix) override {
    generator_.set_state(getTensor(state, prefix + "generator"));
  }

 private:
  at::Generator generator_;
};

}  // namespace

std::unique_ptr<LossWeighting> makePcgrad(const WeightingConfig& config, const Names&) {
  return std::make_unique<Pcgrad>(config.seed);
}

}  // namespace mtl::train::weighting
