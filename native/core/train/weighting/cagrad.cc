// CAGrad (Liu, Liu, Jin, Stone & Liu 2021). With g₀ the mean of the task gradients gᵢ (rows of G)
// and A = GGᵀ, the dual of the paper's problem (its eq. 5) is
//   min over w in the simplex   F(w) = g_wᵀg₀ + √φ‖g_w‖,   g_w = Σ wᵢgᵢ,  √φ = c‖g₀‖,
// i.e. wᵀA·(1/K) + c‖g₀‖·√(wᵀAw). The update is d = g₀ + (√φ/‖g_w‖)·g_w, divided by 1 + c²
// (the authors' default rescaling, which keeps the step's size comparable to g₀'s). ‖g₀‖ and
// ‖g_w‖ get +1e-8 as in the authors' code. Task-specific parameters get the gradient of Σ Lᵢ;
// λᵢ reports each task gradient's coefficient in d.
#include <cmath>

#include "core/train/weighting/methods.h"
#include "core/train/weighting/simplex.h"

namespace mtl::train::weighting {
namespace {

class Cagrad : public LossWeighting {
 public:
  explicit Cagrad(double c) : c_(c) {}
  std::string name() const override { return "cagrad"; }
  GradientNeed gradientNeed() const override { return GradientNeed::Shared; }
  bool needsAllTasksEachStep() const override { return true; }

  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const int64_t k = taskGradients.size(0);
    at::Tensor g = taskGradients.to(at::kDouble);
    at::Tensor a = at::matmul(g, g.t());
    at::Tensor b = at::full({k}, 1.0 / static_cast<double>(k), at::kDouble);
    const double meanNorm = std::sqrt(a.mean().item<double>() + 1e-8);  // ‖g₀‖
    const double radius = c_ * meanNorm + 1e-8;                        // √φ
    at::Tensor ab = at::matmul(a, b);
    auto value = [&](const at::Tensor& w) {
      return at::dot(w, ab).item<double>() + radius * std::sqrt(at::dot(w, at::matmul(a, w)).item<double>() + 1e-8);
    };
    auto gradient = [&](const at::Tensor& w) {
      at::Tensor aw = at::matmul(a, w);
      return ab + radius * aw / std::sqrt(at::dot(w, aw).item<double>() + 1e-8);
    };
    at::Tensor w = minimizeOverSimplex(k, value, gradient);
    at::Tensor gw = at::matmul(w, g);
    const double scale = radius / (gw.norm().item<double>() + 1e-8);
    at::Tensor coefficients = (b + scale * w) / (1.0 + c_ * c_);
    at::Tensor combined = at::matmul(coefficients, g).to(taskGradients.scalar_type());
    std::vector<double> lambdas(coefficients.data_ptr<double>(), coefficients.data_ptr<double>() + k);
    return {weightedSum(losses, std::vector<double>(tasks.size(), 1.0)), combined, lambdas};
  }

 private:
  double c_;
};

}  // namespace

std::unique_ptr<LossWeighting> makeCagrad(const WeightingConfig& config, const Names&) {
  if (!(config.c >= 0)) throw std::invalid_argument("weighting.cagrad: 'c' must be >= 0");
  return std::make_unique<Cagrad>(config.c);
}

}  // namespace mtl::train::weighting
