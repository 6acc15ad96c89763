#include "core/train/weighting/auxiliary.h"

#include <algorithm>
#include <stdexcept>

#include "core/host_memory.h"

namespace mtl::train {

MainTasks::MainTasks(const WeightingContext& context) {
  for (const auto& name : context.taskNames) {
    isMain_.push_back(std::find(context.main.begin(), context.main.end(), name) != context.main.end());
  }
  const auto mains = std::count(isMain_.begin(), isMain_.end(), true);
  // The TypeScript edge refuses both; this guards C++ callers.
  if (mains == 0) throw std::invalid_argument("weighting: this method needs the trainer's 'main' tasks among the tasks it trains");
  if (mains == static_cast<long>(isMain_.size()))
    throw std::invalid_argument("weighting: every task is a main task, so there is no auxiliary task to weigh");
}

at::Tensor MainTasks::gram(const at::Tensor& taskGradients) {
  const at::Tensor g = taskGradients.to(at::kDouble);
  return at::matmul(g, g.t()).cpu().contiguous();
}

std::vector<double> MainTasks::mainDots(const std::vector<int64_t>& tasks, const at::Tensor& gram) const {
  const int64_t k = gram.size(0);
  const double* a = gram.data_ptr<double>();
  std::vector<double> dots(k, 0.0);
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t m = 0; m < k; ++m) {
      if (isMain(tasks[m])) dots[i] += a[m * k + i];
    }
  }
  return dots;
}

double MainTasks::mainNormSquared(const std::vector<int64_t>& tasks, const at::Tensor& gram) const {
  const std::vector<double> dots = mainDots(tasks, gram);
  double total = 0;
  for (size_t i = 0; i < dots.size(); ++i) {
    if (isMain(tasks[i])) total += dots[i];
  }
  return total;
}

at::Tensor MainTasks::combineRows(const std::vector<double>& coefficients, const at::Tensor& taskGradients) {
  const at::Tensor c = at::tensor(coefficients, at::kDouble);
  return at::matmul(hostToDevice(c, taskGradients.device()), taskGradients.to(at::kDouble)).to(taskGradients.scalar_type());
}

}  // namespace mtl::train
