// joint(): every task in every step. Without a sampler each task gets batchSize examples. With
// one, the step's K·batchSize examples are shared out by its distribution p: task i gets
// nᵢ = max(1, ⌊K·B·pᵢ⌉) examples (largest-remainder rounding, at least one so every task is in
// every step), so temperature sampling evens out data sets of different sizes as it does under
// alternating training, but inside one backward. Tasks sharing inputs have equal sizes, so equal
// shares. An epoch is maxᵢ ⌈Nᵢ / nᵢ⌉ steps: every data set seen once.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/train/strategy/strategy.h"

namespace mtl::train {
namespace {

std::vector<int64_t> sharesOf(const std::vector<double>& probabilities, int64_t total) {
  const size_t k = probabilities.size();
  std::vector<int64_t> rows(k);
  std::vector<std::pair<double, size_t>> remainders;
  int64_t given = 0;
  for (size_t i = 0; i < k; ++i) {
    const double exact = probabilities[i] * static_cast<double>(total);
    rows[i] = static_cast<int64_t>(std::floor(exact));
    given += rows[i];
    remainders.push_back({exact - std::floor(exact), i});
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t r = 0; given < total && r < remainders.size(); ++r, ++given) ++rows[remainders[r].second];
  for (auto& n : rows) n = std::max<int64_t>(n, 1);
  return rows;
}

class Joint : public Strategy {
 public:
  explicit Joint(const PlanSetup& setup) {
    const int64_t k = static_cast<int64_t>(setup.taskNames.size());
    rows_ = setup.sampler ? sharesOf(setup.sampler->probabilities(), k * setup.batchSize)
                          : std::vector<int64_t>(setup.taskNames.size(), setup.batchSize);
    for (size_t i = 0; i < rows_.size(); ++i) stepsPerEpoch_ = std::max(stepsPerEpoch_, batchesPerPass(setup.sizes[i], rows_[i]));
  }
  int64_t stepsPerEpoch() const override { return stepsPerEpoch_; }
  StepPlan plan(int64_t) override {
    StepPlan plan;
    for (size_t i = 0; i < rows_.size(); ++i) {
      plan.tasks.push_back(static_cast<int64_t>(i));
      plan.scales.push_back(1.0);
      plan.rows.push_back(rows_[i]);
    }
    return plan;
  }

 private:
  std::vector<int64_t> rows_;
  int64_t stepsPerEpoch_ = 1;
};

const RegisterStrategy<NoOptions> registered("joint", StrategyCapabilities{true, "optional", ""},
                                             [](const NoOptions&, const PlanSetup& setup) { return std::make_unique<Joint>(setup); });

}  // namespace
}  // namespace mtl::train
