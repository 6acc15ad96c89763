// What the main-task-aware weightings (GCS, one-sided projection, MetaBalance, OL-AUX) share: which
// of a step's tasks are main, and the main gradient gₘ = Σ of the main tasks' gradients, seen
// through the Gram matrix A = GGᵀ of the step's task gradients (so most of the arithmetic is K×K,
// on the host, and the shared gradient is one product cᵀG on the gradients' device).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/train/weighting/weighting.h"

namespace mtl::train {

class MainTasks {
 public:
  explicit MainTasks(const WeightingContext& context);
  // Positions in a step's task list (indices into the context's tasks) of its main and auxiliary tasks.
  bool isMain(int64_t task) const { return isMain_.at(static_cast<size_t>(task)); }
  // The step's Gram matrix A = GGᵀ (double, host) of taskGradients [K, P].
  static at::Tensor gram(const at::Tensor& taskGradients);
  // gₘ·gᵢ for every row i, and ‖gₘ‖², from A and the rows of the step's tasks.
  std::vector<double> mainDots(const std::vector<int64_t>& tasks, const at::Tensor& gram) const;
  double mainNormSquared(const std::vector<int64_t>& tasks, const at::Tensor& gram) const;
  // cᵀG on G's device, in G's dtype: the shared gradient Σ cᵢgᵢ.
  static at::Tensor combineRows(const std::vector<double>& coefficients, const at::Tensor& taskGradients);

 private:
  std::vector<bool> isMain_;
};

}  // namespace mtl::train
