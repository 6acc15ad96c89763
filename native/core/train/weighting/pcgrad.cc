// PCGrad (Yu et al. 2020, Algorithm 1): each task's gradient of the shared parameters is projected
// onto the normal plane of every other task's gradient it conflicts with (negative dot product),
// the others visited in a random order; the shared gradient is the sum of the projected ones.
//   gᵢ ← gᵢ − (gᵢ·gⱼ / ‖gⱼ‖²) gⱼ   if gᵢ·gⱼ < 0
// The order comes from the method's own generator (seeded, checkpointed): for task i, the tasks of
// randperm(K) other than i. Task-specific parameters get the gradient of Σ Lᵢ; λᵢ = 1.
#include <ATen/CPUGeneratorImpl.h>

#include "core/host_memory.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

class Pcgrad : public LossWeighting {
 public:
  explicit Pcgrad(uint64_t seed) : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    // Each projected gradient is a combination of the task gradients, pᵢ = Σₘ Cᵢₘ gₘ, so the
    // projections need only the Gram matrix A = GGᵀ (pᵢ·gⱼ = Σₘ Cᵢₘ Aₘⱼ): it comes to the host
    // once, and the shared gradient is one product (Σᵢ Cᵢ) G on the gradients' device.
    const int64_t k = taskGradients.size(0);
    const at::Tensor g = taskGradients.to(at::kDouble);
    const at::Tensor gram = at::matmul(g, g.t()).cpu().contiguous();
    const double* a = gram.data_ptr<double>();
    at::Tensor coefficients = at::eye(k, at::kDouble);
    double* c = coefficients.data_ptr<double>();
    for (int64_t i = 0; i < k; ++i) {
      const at::Tensor order = at::randperm(k, generator_, at::TensorOptions(at::kLong));
      const int64_t* visit = order.data_ptr<int64_t>();
      for (int64_t position = 0; position < k; ++position) {
        const int64_t j = visit[position];
        if (j == i) continue;
        double dot = 0;
        for (int64_t m = 0; m < k; ++m) dot += c[i * k + m] * a[m * k + j];
        if (dot < 0) c[i * k + j] -= dot / a[j * k + j];
      }
    }
    const at::Tensor combined = at::matmul(hostToDevice(coefficients.sum(0), g.device()), g).to(taskGradients.scalar_type());
    std::vector<double> lambdas(tasks.size(), 1.0);
    return {weightedSum(losses, lambdas), combined, lambdas};
  }

  void saveState(State& state, const std::string& prefix) const override { state[prefix + "generator"] = generator_.get_state(); }
  void loadState(const State& state, const std::string& prefix) override { generator_.set_state(getTensor(state, prefix + "generator")); }

 private:
  at::Generator generator_;
};

const RegisterWeighting<NoOptions> registered("pcgrad", WeightingCapabilities{GradientNeed::Shared, true},
                                              [](const NoOptions&, const WeightingContext& context) {
                                                return std::make_unique<Pcgrad>(context.seed);
                                              });

}  // namespace
}  // namespace mtl::train
