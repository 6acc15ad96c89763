// regression({ decoderLayers, pooling }): one value per example (B), mean squared error. Evaluation: MSE,
// Pearson and Spearman correlation (GLUE's STS-B). Targets: float32 [N].
#include "core/metrics/metrics.h"
#include "core/model/heads/pooled.h"

namespace mtl::model {
namespace {

struct RegressionOptions {
  int64_t decoderLayers = 0;
  std::string pooling = "mean";  // mean | pretrained (decoderLayers 0)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RegressionOptions, decoderLayers, pooling)

class ValueEvaluator : public HeadEvaluator {
 public:
  void add(const at::Tensor& predictions, const data::Batch& batch) override {
    predictions_.push_back(predictions.to(at::kDouble).reshape(-1));
    targets_.push_back(batch.targets.to(at::kDouble).reshape(-1));
  }
  std::map<std::string, double> metrics() const override {
    const at::Tensor predicted = at::cat(predictions_), target = at::cat(targets_);
    return {{"mse", (predicted - target).pow(2).mean().item<double>()},
            {"pearson", metrics::pearson(predicted, target)},
            {"spearman", metrics::spearman(predicted, target)}};
  }

 private:
  std::vector<at::Tensor> predictions_, targets_;
};

class RegressionHeadImpl : public PooledHeadImpl {
 public:
  RegressionHeadImpl(const RegressionOptions& options, const HeadContext& context)
      : PooledHeadImpl(1, options.decoderLayers, options.pooling, context) {}
  at::Tensor forward(const Encoded& encoded, const data::Batch& batch) override {
    return PooledHeadImpl::forward(encoded, batch).squeeze(-1);
  }
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    return at::mse_loss(outputs, batch.targets.to(outputs.device(), outputs.scalar_type()));
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override { return forward(encoded, batch); }
  std::unique_ptr<HeadEvaluator> makeEvaluator() const override { return std::make_unique<ValueEvaluator>(); }
};

const RegisterHead<RegressionOptions> registered(
    "regression", HeadCapabilities{{{"mse", "min"}, {"pearson", "max"}, {"spearman", "max"}}, "pearson", false},
    [](const RegressionOptions& options, const HeadContext& context) { return std::make_shared<RegressionHeadImpl>(options, context); },
    data::TargetLayout{at::kFloat, 1, data::TargetLayout::Trim::None});

}  // namespace
}  // namespace mtl::model
