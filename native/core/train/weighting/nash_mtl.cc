// Nash-MTL (Navon et al. 2022). The bargaining solution's weights α > 0 satisfy (the paper's
// Claim 3.1)  GGᵀα = 1/α  elementwise, with G the [K, P] task gradients of the shared parameters;
// as the authors' code does, GGᵀ is first divided by its Frobenius norm. Those are exactly the
// stationary points of the strictly convex φ(α) = ½αᵀMα − Σ log αᵢ (M = GGᵀ/‖GGᵀ‖), so the
// unique solution is found here by damped Newton steps on φ, where the authors approximate it by a
// sequence of convex programs. L = Σ αᵢLᵢ; λᵢ = αᵢ.
#include <cmath>

#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

at::Tensor solveNashWeights(const at::Tensor& m) {
  const int64_t k = m.size(0);
  auto phi = [&](const at::Tensor& a) { return 0.5 * at::dot(a, at::matmul(m, a)).item<double>() - at::log(a).sum().item<double>(); };
  at::Tensor alpha = at::ones({k}, at::kDouble);
  for (int iteration = 0; iteration < 100; ++iteration) {
    at::Tensor gradient = at::matmul(m, alpha) - 1.0 / alpha;
    if (gradient.abs().max().item<double>() < 1e-12) break;
    at::Tensor hessian = m + at::diag(1.0 / (alpha * alpha));
    at::Tensor direction = -at::linalg_solve(hessian, gradient.unsqueeze(1)).squeeze(1);
    double t = 1.0;
    const double current = phi(alpha);
    const double slope = at::dot(gradient, direction).item<double>();
    while (true) {
      at::Tensor candidate = alpha + t * direction;
      if ((candidate > 0).all().item<bool>() && phi(candidate) <= current + 1e-4 * t * slope) {
        alpha = candidate;
        break;
      }
      t *= 0.5;
      if (t < 1e-20) return alpha;
    }
  }
  return alpha;
}

class NashMtl : public LossWeighting {
 public:
  Combination combine(const std::vector<int64_t>&, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    at::Tensor g = taskGradients.to(at::kDouble);
    // The K×K Gram matrix comes to the host once; the small Newton solve runs there.
    at::Tensor gram = at::matmul(g, g.t()).cpu();
    const double norm = gram.norm().item<double>();
    if (!(norm > 0)) throw std::runtime_error("weighting.nashMtl: every task gradient is zero");
    at::Tensor alpha = solveNashWeights(gram / norm);
    std::vector<double> lambdas(alpha.data_ptr<double>(), alpha.data_ptr<double>() + alpha.numel());
    return {weightedSum(losses, lambdas), {}, lambdas};
  }
};

const RegisterWeighting<NoOptions> registered("nashMtl", WeightingCapabilities{GradientNeed::Shared, true},
                                               [](const NoOptions&, const WeightingContext&) { return std::make_unique<NashMtl>(); });

}  // namespace
}  // namespace mtl::train
