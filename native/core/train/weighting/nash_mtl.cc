// Nash-MTL (Navon et al. 2022). The bargaining solution's weights α > 0 satisfy (the paper's
// Claim 3.1)  GGᵀα = 1/α  elementwise, with G the [K, P] task gradients of the shared parameters,
// so that ‖Σ αᵢgᵢ‖² = K. The authors' code (AvivNavon/nash-mtl methods/weight_methods.py, copied
// by LibMTL and FAMO) divides GGᵀ by its Frobenius norm n for the solver but keeps n in the
// constraint, αᵢ·n·(GGᵀ/n · α)ᵢ ≥ 1: it solves the equation on the unnormalised Gram, and so does
// this file. (Solving it on GGᵀ/n instead would give √n times their α.) Those are exactly the
// stationary points of the strictly convex φ(α) = ½αᵀMα − Σ log αᵢ (M = GGᵀ), so the unique
// solution is found here by damped Newton steps on φ (on M/n, the result divided by √n, for a
// well-scaled solve), where the authors approximate it by a sequence of convex programs.
// The shared parameters get Σ αᵢgᵢ, clipped to L2 norm `maxNorm` as the authors' backward()
// does (clip_grad_norm_ over the shared parameters, default 1; 0: no clip); the task-specific
// ones get the gradient of Σ αᵢLᵢ. λᵢ = αᵢ. With accumulateSteps > 1 the clip applies to each
// micro-batch's shared gradient.
#include <cmath>

#include "core/host_memory.h"
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

struct NashMtlOptions {
  double maxNorm = 1.0;  // the shared gradient's L2 norm is clipped to this (the authors' default); 0: no clip
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(NashMtlOptions, maxNorm)

class NashMtl : public LossWeighting {
 public:
  explicit NashMtl(double maxNorm) : maxNorm_(maxNorm) {}
  Combination combine(const std::vector<int64_t>&, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    at::Tensor g = taskGradients.to(at::kDouble);
    // The K×K Gram matrix comes to the host once; the small Newton solve runs there.
    at::Tensor gram = at::matmul(g, g.t()).cpu();
    const double norm = gram.norm().item<double>();
    if (!(norm > 0)) throw std::runtime_error("weighting.nashMtl: every task gradient is zero");
    // α solves GGᵀα = 1/α; with β solving (GGᵀ/n)β = 1/β, α = β/√n.
    at::Tensor alpha = solveNashWeights(gram / norm) / std::sqrt(norm);
    std::vector<double> lambdas(alpha.data_ptr<double>(), alpha.data_ptr<double>() + alpha.numel());
    at::Tensor shared = at::matmul(hostToDevice(alpha, g.device()), g);
    if (maxNorm_ > 0) {
      // torch.nn.utils.clip_grad_norm_: × min(1, maxNorm / (‖g‖ + 1e-6)), kept on the device.
      shared = shared * at::clamp_max(maxNorm_ / (shared.norm() + 1e-6), 1.0);
    }
    return {weightedSum(losses, lambdas), shared.to(taskGradients.scalar_type()), lambdas};
  }

 private:
  double maxNorm_;
};

const RegisterWeighting<NashMtlOptions> registered("nashMtl", WeightingCapabilities{GradientNeed::Shared, true},
                                                   [](const NashMtlOptions& options, const WeightingContext&) {
                                                     return std::make_unique<NashMtl>(options.maxNorm);
                                                   });

}  // namespace
}  // namespace mtl::train
