// Minimizing a smooth convex function over the probability simplex, for CAGrad's dual problem.
#pragma once
#include <ATen/ATen.h>

#include <functional>

namespace mtl::train {

// Euclidean projection of v (float64 [K]) onto {x : x ≥ 0, Σx = 1} (Duchi et al. 2008).
at::Tensor projectOntoSimplex(const at::Tensor& v);

// Projected gradient descent with Armijo backtracking from the simplex's centre. `value` and
// `gradient` take and return float64 tensors. Stops when a step moves x by less than `tolerance`.
at::Tensor minimizeOverSimplex(int64_t k, const std::function<double(const at::Tensor&)>& value,
                               const std::function<at::Tensor(const at::Tensor&)>& gradient, int maxIterations = 5000,
                               double tolerance = 1e-12);

}  // namespace mtl::train
