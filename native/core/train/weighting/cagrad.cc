// CAGrad (Liu, Liu, Jin, Stone & Liu 2021). With g₀ the mean of the task gradients gᵢ (rows of G)
// and A = GGᵀ, the dual of the paper's problem (its eq. 5) is
//   min over w in the simplex   F(w) = g_wᵀg₀ + √φ‖g_w‖,   g_w = Σ wᵢgᵢ,  √φ = c‖g₀‖,
// i.e. wᵀA·(1/K) + c‖g₀‖·√(wᵀAw). The update is d = g₀ + (√φ/‖g_w‖)·g_w, divided by 1 + c²
// (the authors' default rescaling, which keeps the step's size comparable to g₀'s). ‖g₀‖ and
// ‖g_w‖ get +1e-8 as in the authors' code. Task-specific parameters get the gradient of Σ Lᵢ;
// λᵢ reports each task gradient's coefficient in d.
#include <algorithm>
#include <cmath>

#include "core/host_memory.h"
#include "core/train/weighting/simplex.h"
#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

struct CagradOptions {
  double c = 0.4;  // the conflict-averse radius, as a fraction of ‖g₀‖
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CagradOptions, c)

class Cagrad : public LossWeighting {
 public:
  explicit Cagrad(double c) : c_(c) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const int64_t k = taskGradients.size(0);
    at::Tensor g = taskGradients.to(at::kDouble);
    // The small dual problem runs on the host, over the K×K Gram matrix (one transfer per step).
    at::Tensor a = at::matmul(g, g.t()).cpu();
    at::Tensor b = at::full({k}, 1.0 / static_cast<double>(k), at::kDouble);
    const double meanNorm = std::sqrt(a.mean().item<double>() + 1e-8);  // ‖g₀‖
    const double radius = c_ * meanNorm + 1e-8;                         // √φ
    at::Tensor ab = at::matmul(a, b);
    auto value = [&](const at::Tensor& w) {
      return at::dot(w, ab).item<double>() + radius * std::sqrt(at::dot(w, at::matmul(a, w)).item<double>() + 1e-8);
    };
    auto gradient = [&](const at::Tensor& w) {
      at::Tensor aw = at::matmul(a, w);
      return ab + radius * aw / std::sqrt(at::dot(w, aw).item<double>() + 1e-8);
    };
    at::Tensor w = minimizeOverSimplex(k, value, gradient);
    const double gwNorm = std::sqrt(std::max(0.0, at::dot(w, at::matmul(a, w)).item<double>()));  // ‖g_w‖
    const double scale = radius / (gwNorm + 1e-8);
    at::Tensor coefficients = ((b + scale * w) / (1.0 + c_ * c_)).contiguous();
    at::Tensor combined = at::matmul(hostToDevice(coefficients, g.device()), g).to(taskGradients.scalar_type());
    std::vector<double> lambdas(coefficients.data_ptr<double>(), coefficients.data_ptr<double>() + k);
    return {weightedSum(losses, std::vector<double>(tasks.size(), 1.0)), combined, lambdas};
  }

 private:
  double c_;
};

const RegisterWeighting<CagradOptions> registered("cagrad", WeightingCapabilities{GradientNeed::Shared, true},
                                                  [](const CagradOptions& options, const WeightingContext&) {
                                                    return std::make_unique<Cagrad>(options.c);
                                                  });

}  // namespace
}  // namespace mtl::train
