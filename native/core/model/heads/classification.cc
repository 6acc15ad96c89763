// classification({ classes, decoderLayers, pooling, labelSmoothing, ignoreIndex }): logits (B, classes),
// cross-entropy with ignore index and label smoothing; predictions are class ids. Evaluation:
// accuracy, F1 (of class 1 when only classes 0 and 1 occur, as GLUE's MRPC and QQP; macro F1
// otherwise) and Matthews correlation (GLUE's CoLA). Targets: int64 [N].
#include <algorithm>

#include "core/metrics/metrics.h"
#include "core/model/heads/pooled.h"

namespace mtl::model {
namespace {

struct ClassificationOptions : CrossEntropyOptions {
  int64_t classes = 0;  // required
  int64_t decoderLayers = 0;
  std::string pooling = "mean";  // mean | pretrained (decoderLayers 0)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ClassificationOptions, classes, decoderLayers, pooling, labelSmoothing, ignoreIndex)

class ClassEvaluator : public HeadEvaluator {
 public:
  void add(const at::Tensor& predictions, const data::Batch& batch) override {
    predictions_.push_back(predictions.reshape(-1).to(at::kLong));
    targets_.push_back(batch.targets.reshape(-1).to(at::kLong));
  }
  std::map<std::string, double> metrics() const override {
    const at::Tensor predicted = at::cat(predictions_), target = at::cat(targets_);
    const bool binary = std::max(predicted.max().item<int64_t>(), target.max().item<int64_t>()) <= 1;
    return {{"accuracy", metrics::accuracy(predicted, target)},
            {"f1", binary ? metrics::f1(predicted, target, 1) : metrics::f1Macro(predicted, target)},
            {"matthews", metrics::matthewsCorrelation(predicted, target)}};
  }

 private:
  std::vector<at::Tensor> predictions_, targets_;
};

class ClassificationHeadImpl : public PooledHeadImpl {
 public:
  explicit ClassificationHeadImpl(const ClassificationOptions& options, const HeadContext& context)
      : PooledHeadImpl(options.classes, options.decoderLayers, options.pooling, context), options_(options) {}
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override { return crossEntropy(outputs, batch.targets, options_); }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override { return forward(encoded, batch).argmax(-1); }
  std::unique_ptr<HeadEvaluator> makeEvaluator() const override { return std::make_unique<ClassEvaluator>(); }

 private:
  ClassificationOptions options_;
};

const RegisterHead<ClassificationOptions> registered(
    "classification", HeadCapabilities{{{"accuracy", "max"}, {"f1", "max"}, {"matthews", "max"}}, "accuracy", false},
    [](const ClassificationOptions& options, const HeadContext& context) {
      return std::make_shared<ClassificationHeadImpl>(options, context);
    },
    data::TargetLayout{at::kLong, 1, data::TargetLayout::Trim::None});

}  // namespace
}  // namespace mtl::model
