#include "core/train/weighting/simplex.h"

namespace mtl::train {

at::Tensor projectOntoSimplex(const at::Tensor& v) {
  const int64_t k = v.numel();
  at::Tensor sorted = std::get<0>(v.sort(0, /*descending=*/true));
  at::Tensor cumulative = sorted.cumsum(0) - 1.0;
  at::Tensor ranks = at::arange(1, k + 1, v.options());
  at::Tensor positive = (sorted - cumulative / ranks) > 0;
  const int64_t rho = positive.nonzero().max().item<int64_t>();
  const double theta = cumulative[rho].item<double>() / static_cast<double>(rho + 1);
  return (v - theta).clamp_min(0.0);
}

at::Tensor minimizeOverSimplex(int64_t k, const std::function<double(const at::Tensor&)>& value,
                               const std::function<at::Tensor(const at::Tensor&)>& gradient, int maxIterations, double tolerance) {
  at::Tensor x = at::full({k}, 1.0 / static_cast<double>(k), at::kDouble);
  double fx = value(x);
  double step = 1.0;
  for (int iteration = 0; iteration < maxIterations; ++iteration) {
    const at::Tensor g = gradient(x);
    at::Tensor candidate;
    double fc = 0;
    // Armijo backtracking along the projection arc.
    for (int halving = 0; halving < 60; ++halving) {
      candidate = projectOntoSimplex(x - step * g);
      fc = value(candidate);
      if (fc <= fx + (g * (candidate - x)).sum().item<double>() + 0.5 / step * (candidate - x).pow(2).sum().item<double>()) break;
      step *= 0.5;
    }
    const double moved = (candidate - x).abs().max().item<double>();
    x = candidate;
    fx = fc;
    step *= 2.0;  // let the step grow back where the function is flatter
    if (moved < tolerance) break;
  }
  return x;
}

}  // namespace mtl::train
