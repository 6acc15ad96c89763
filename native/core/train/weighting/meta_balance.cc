// MetaBalance (He, Feng, Wang, Zhang & Lin 2022, "MetaBalance: Improving multi-task recommendations
// via adapting gradient magnitudes of auxiliary tasks", Algorithm 1): per shared parameter tensor
// θ, moving averages of the gradient norms, mₘ = β·mₘ + (1 − β)‖∇θ Lₘ‖ for the main gradient
// (Σ of the trainer's `main` tasks') and mₐ likewise for each auxiliary task (all start at 0), pull
// every auxiliary gradient's magnitude toward the main one's by the relax factor r:
//   ∇θ Lₐ ← ∇θ Lₐ · (r·mₘ/mₐ + (1 − r)),   shared gradient = Σ main + Σₐ the scaled ∇θ Lₐ.
// r = 1 gives each auxiliary gradient the main gradient's (averaged) norm, r = 0 leaves it as it is.
// The auxiliary heads are trained by their own losses. λ: 1 for a main task; for an auxiliary one
// the mean of its per-tensor factors weighted by the tensors' sizes (what it got on average).
#include "core/host_memory.h"
#include "core/train/weighting/auxiliary.h"

namespace mtl::train {
namespace {

struct MetaBalanceOptions {
  double relax = 0.7;  // r
  double beta = 0.9;   // of the moving averages
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MetaBalanceOptions, relax, beta)

class MetaBalance : public LossWeighting {
 public:
  MetaBalance(const WeightingContext& context, const MetaBalanceOptions& options)
      : main_(context), options_(options), sizes_(context.sharedSizes) {
    const auto tensors = static_cast<int64_t>(sizes_.size());
    averages_ = at::zeros({static_cast<int64_t>(context.taskNames.size()) + 1, tensors}, at::kDouble);  // row 0: main
    std::vector<int64_t> segment;
    for (int64_t s = 0; s < tensors; ++s) segment.insert(segment.end(), static_cast<size_t>(sizes_[s]), s);
    segment_ = at::tensor(segment, at::kLong);
  }
  Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses, const std::vector<double>&,
                      const at::Tensor& taskGradients, const StepContext&) override {
    const int64_t k = taskGradients.size(0);
    const auto device = taskGradients.device();
    if (averages_.device() != device) {
      averages_ = averages_.to(device);
      segment_ = segment_.to(device);
    }
    const at::Tensor g = taskGradients.to(at::kDouble);
    std::vector<double> isMain(k);
    std::vector<int64_t> rows{0};  // the averages' rows of this step's tasks, main first
    for (int64_t i = 0; i < k; ++i) {
      isMain[i] = main_.isMain(tasks[i]) ? 1.0 : 0.0;
      rows.push_back(tasks[i] + 1);
    }
    const at::Tensor mainMask = hostToDevice(at::tensor(isMain, at::kDouble), device);
    const at::Tensor mainGradient = at::matmul(mainMask, g);          // [P]
    const at::Tensor both = at::cat({mainGradient.unsqueeze(0), g});  // [1 + K, P]
    // Per-tensor norms: squares summed by segment.
    const at::Tensor norms = at::zeros({k + 1, averages_.size(1)}, g.options()).index_add_(1, segment_, both * both).sqrt();
    const at::Tensor index = hostToDevice(at::tensor(rows, at::kLong), device);
    const at::Tensor updated = averages_.index_select(0, index) * options_.beta + norms * (1 - options_.beta);
    averages_.index_copy_(0, index, updated);
    const at::Tensor mainAverage = updated.narrow(0, 0, 1);
    const at::Tensor taskAverage = updated.narrow(0, 1, k);
    const at::Tensor ratio = at::where(taskAverage > 0, mainAverage / taskAverage, at::zeros_like(taskAverage));
    at::Tensor factors = ratio * options_.relax + (1 - options_.relax);               // [K, S]
    factors = at::where(mainMask.unsqueeze(1) > 0, at::ones_like(factors), factors);  // main rows unchanged
    const at::Tensor shared = (factors.index_select(1, segment_) * g).sum(0).to(taskGradients.scalar_type());

    const at::Tensor sizes = hostToDevice(at::tensor(sizes_, at::kDouble), device);
    const at::Tensor mean = (at::matmul(factors, sizes) / sizes.sum()).cpu().contiguous();
    std::vector<double> lambdas(mean.data_ptr<double>(), mean.data_ptr<double>() + k);
    return {weightedSum(losses, std::vector<double>(k, 1.0)), shared, lambdas};
  }

  void saveState(State& state, const std::string& prefix) const override { state[prefix + "norm_averages"] = averages_.cpu().clone(); }
  void loadState(const State& state, const std::string& prefix) override {
    averages_ = getTensorLike(state, prefix + "norm_averages", averages_.cpu()).to(averages_.device()).clone();
  }

 private:
  MainTasks main_;
  MetaBalanceOptions options_;
  std::vector<int64_t> sizes_;
  at::Tensor averages_;  // [1 + tasks, shared tensors]: row 0 the main gradient's, row 1 + i task i's
  at::Tensor segment_;   // [P]: the shared tensor each gradient column belongs to
};

const RegisterWeighting<MetaBalanceOptions> registered("metaBalance", WeightingCapabilities{GradientNeed::Shared, true, true},
                                                       [](const MetaBalanceOptions& options, const WeightingContext& context) {
                                                         return std::make_unique<MetaBalance>(context, options);
                                                       });

}  // namespace
}  // namespace mtl::train
