// multiLabel({ labels, decoderLayers, pooling }): one logit per label (B, labels), binary cross-entropy
// with logits (targets 0/1 or soft); predictions are 0/1 (sigmoid > 0.5, i.e. logit > 0).
// Evaluation: accuracy over every (example, label) pair. Targets: float32 [N, labels].
#include "core/model/heads/pooled.h"

namespace mtl::model {
namespace {

struct MultiLabelOptions {
  int64_t labels = 0;  // required
  int64_t decoderLayers = 0;
  std::string pooling = "mean";  // mean | pretrained (decoderLayers 0)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MultiLabelOptions, labels, decoderLayers, pooling)

class LabelEvaluator : public HeadEvaluator {
 public:
  void add(const at::Tensor& predictions, const data::Batch& batch) override {
    correct_ += predictions.eq(batch.targets.to(predictions.scalar_type())).sum().item<double>();
    counted_ += static_cast<double>(batch.targets.numel());
  }
  std::map<std::string, double> metrics() const override { return {{"accuracy", counted_ > 0 ? correct_ / counted_ : 0.0}}; }

 private:
  double correct_ = 0, counted_ = 0;
};

class MultiLabelHeadImpl : public PooledHeadImpl {
 public:
  MultiLabelHeadImpl(const MultiLabelOptions& options, const HeadContext& context)
      : PooledHeadImpl(options.labels, options.decoderLayers, options.pooling, context) {}
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    return at::binary_cross_entropy_with_logits(outputs, batch.targets.to(outputs.device(), outputs.scalar_type()));
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override { return forward(encoded, batch).gt(0).to(at::kLong); }
  std::unique_ptr<HeadEvaluator> makeEvaluator() const override { return std::make_unique<LabelEvaluator>(); }
};

const RegisterHead<MultiLabelOptions> registered(
    "multiLabel", HeadCapabilities{{{"accuracy", "max"}}, "accuracy", false},
    [](const MultiLabelOptions& options, const HeadContext& context) { return std::make_shared<MultiLabelHeadImpl>(options, context); },
    data::TargetLayout{at::kFloat, 2, data::TargetLayout::Trim::None});

}  // namespace
}  // namespace mtl::model
