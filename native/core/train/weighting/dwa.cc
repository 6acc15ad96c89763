// Dynamic Weight Average (Liu, Johns & Davison 2019, eq. 1):
//   λᵢ(t) = K · exp(wᵢ(t−1)/T) / Σⱼ exp(wⱼ(t−1)/T),   wᵢ(t−1) = Lᵢ(t−1) / Lᵢ(t−2)
// where t counts periods and Lᵢ(t) is task i's mean training loss over period t. A period is an
// epoch, as in the paper (window 0, the default), or `window` optimizer steps, so that runs whose
// budget is a few epochs (or less than two) still adapt λ. λ = 1 in the first two periods (no
// ratio yet). The loss means are accumulated here from the losses of each step.
// A task that had no step in one of the two epochs (progressive warm-up, alternating per epoch)
// has no ratio yet either: its wᵢ is taken as 1, a loss that neither rose nor fell.
#include <algorithm>
#include <cmath>

#include "core/train/weighting/weighting.h"

namespace mtl::train {
namespace {

struct DwaOptions {
  double temperature = 2.0;
  int64_t window = 0;  // steps per period; 0: an epoch
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DwaOptions, temperature, window)

class Dwa : public LossWeighting {
 public:
  Dwa(size_t tasks, double temperature, int64_t window)
      : temperature_(temperature),
        window_(window),
        sums_(tasks, 0.0),
        counts_(tasks, 0),
        previous_(tasks, 0.0),
        beforePrevious_(tasks, 0.0) {}
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>& values,
                      const at::Tensor&, const StepContext& context) override {
    const int64_t period = window_ > 0 ? context.step / window_ : context.epoch;
    if (period != currentEpoch_) closeEpoch(period);
    const std::vector<double> all = currentLambdas();
    std::vector<double> lambdas;
    for (size_t i = 0; i < tasks.size(); ++i) {
      lambdas.push_back(all[tasks[i]]);
      sums_[tasks[i]] += values[i];
      counts_[tasks[i]] += 1;
    }
    return {weightedSum(losses, lambdas), {}, lambdas};
  }

  void saveState(State& state, const std::string& prefix) const override {
    state[prefix + "sums"] = at::tensor(sums_, at::kDouble);
    state[prefix + "counts"] = at::tensor(counts_, at::kLong);
    state[prefix + "previous"] = at::tensor(previous_, at::kDouble);
    state[prefix + "before_previous"] = at::tensor(beforePrevious_, at::kDouble);
    putInt(state, prefix + "epoch", currentEpoch_);
    putInt(state, prefix + "closed_epochs", closedEpochs_);
  }
  void loadState(const State& state, const std::string& prefix) override {
    if ((getTensor(state, prefix + "counts") < 0).any().item<bool>())
      throw std::invalid_argument("checkpoint: '" + prefix + "counts' holds negative counts");
    getIntIn(state, prefix + "closed_epochs", 0, std::numeric_limits<int64_t>::max());
    copyInto(sums_, getTensor(state, prefix + "sums"));
    copyInto(previous_, getTensor(state, prefix + "previous"));
    copyInto(beforePrevious_, getTensor(state, prefix + "before_previous"));
    at::Tensor counts = getTensor(state, prefix + "counts").contiguous();
    counts_.assign(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
    currentEpoch_ = getInt(state, prefix + "epoch");
    closedEpochs_ = getInt(state, prefix + "closed_epochs");
  }

 private:
  static void copyInto(std::vector<double>& out, const at::Tensor& t) {
    at::Tensor c = t.contiguous();
    out.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  }

  void closeEpoch(int64_t nextEpoch) {
    if (std::any_of(counts_.begin(), counts_.end(), [](int64_t n) { return n > 0; })) {
      beforePrevious_ = previous_;
      for (size_t i = 0; i < sums_.size(); ++i) previous_[i] = counts_[i] > 0 ? sums_[i] / counts_[i] : previous_[i];
      ++closedEpochs_;
    }
    std::fill(sums_.begin(), sums_.end(), 0.0);
    std::fill(counts_.begin(), counts_.end(), 0);
    currentEpoch_ = nextEpoch;
  }

  std::vector<double> currentLambdas() const {
    const size_t k = sums_.size();
    if (closedEpochs_ < 2) return std::vector<double>(k, 1.0);
    std::vector<double> exps(k);
    double total = 0;
    for (size_t i = 0; i < k; ++i) {
      const bool hasRatio = previous_[i] > 0 && beforePrevious_[i] > 0;
      exps[i] = std::exp((hasRatio ? previous_[i] / beforePrevious_[i] : 1.0) / temperature_);
      total += exps[i];
    }
    for (double& e : exps) e = static_cast<double>(k) * e / total;
    return exps;
  }

  double temperature_;
  int64_t window_;
  std::vector<double> sums_;
  std::vector<int64_t> counts_;
  std::vector<double> previous_, beforePrevious_;
  int64_t currentEpoch_ = 0;
  int64_t closedEpochs_ = 0;
};

const RegisterWeighting<DwaOptions> registered("dwa", WeightingCapabilities{},
                                               [](const DwaOptions& options, const WeightingContext& context) {
                                                 return std::make_unique<Dwa>(context.taskNames.size(), options.temperature,
                                                                              options.window);
                                               });

}  // namespace
}  // namespace mtl::train
