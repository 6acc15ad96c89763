// tagging({ classes, labelSmoothing, ignoreIndex }): one label per input position, logits
// (B, L, classes) from a Linear `out` over the encoder output. Targets int64 [N, L] (the input's
// width) are ignored where they equal ignoreIndex and at padding positions; predictions are class
// ids (B, L), ignoreIndex at padding. Evaluation: accuracy over the labelled real positions.
#include <torch/nn/modules/linear.h>

#include "core/model/head.h"

namespace mtl::model {
namespace {

struct TaggingOptions : CrossEntropyOptions {
  int64_t classes = 0;  // required
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TaggingOptions, classes, labelSmoothing, ignoreIndex)

// (B, L) bool: true at positions >= the row's length.
at::Tensor paddingOf(const data::Batch& batch, int64_t length, const c10::Device& device) {
  const at::Tensor positions = at::arange(length, batch.lengths.options().dtype(at::kLong));
  return positions.unsqueeze(0).ge(batch.lengths.to(at::kLong).unsqueeze(1)).to(device);
}

class TagEvaluator : public HeadEvaluator {
 public:
  explicit TagEvaluator(int64_t ignoreIndex) : ignoreIndex_(ignoreIndex) {}
  void add(const at::Tensor& predictions, const data::Batch& batch) override {
    at::Tensor labelled = batch.targets.ne(ignoreIndex_);
    if (batch.lengths.defined()) labelled &= paddingOf(batch, batch.targets.size(1), batch.targets.device()).logical_not();
    correct_ += (predictions.eq(batch.targets) & labelled).sum().item<double>();
    counted_ += labelled.sum().item<double>();
  }
  std::map<std::string, double> metrics() const override { return {{"accuracy", counted_ > 0 ? correct_ / counted_ : 0.0}}; }

 private:
  int64_t ignoreIndex_;
  double correct_ = 0, counted_ = 0;
};

class TaggingHeadImpl : public HeadImpl {
 public:
  TaggingHeadImpl(const TaggingOptions& options, const HeadContext& context) : options_(options) {
    out_ = register_module("out", torch::nn::Linear(context.config.encoder.dModel, options.classes));
  }
  at::Tensor forward(const Encoded& encoded, const data::Batch&) override { return out_(encoded.memory); }
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    // The batch may be trimmed to a different length than the targets were padded to.
    const int64_t length = outputs.size(1);
    at::Tensor targets = batch.targets.to(outputs.device(), at::kLong);
    TORCH_CHECK(targets.dim() == 2 && targets.size(0) == outputs.size(0), "tagging targets must be (B, L)");
    if (targets.size(1) > length) targets = targets.narrow(1, 0, length);
    TORCH_CHECK(targets.size(1) == length, "tagging targets have ", targets.size(1), " positions but the input has ", length);
    // Without lengths, padding positions must already hold ignoreIndex.
    if (batch.lengths.defined()) targets = targets.masked_fill(paddingOf(batch, length, outputs.device()), options_.ignoreIndex);
    return crossEntropy(outputs, targets, options_);
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override {
    return forward(encoded, batch).argmax(-1).masked_fill(encoded.paddingMask, options_.ignoreIndex);
  }
  std::unique_ptr<HeadEvaluator> makeEvaluator() const override { return std::make_unique<TagEvaluator>(options_.ignoreIndex); }

 private:
  TaggingOptions options_;
  torch::nn::Linear out_{nullptr};
};

const RegisterHead<TaggingOptions> registered(
    "tagging", HeadCapabilities{{{"accuracy", "max"}}, "accuracy", false},
    [](const TaggingOptions& options, const HeadContext& context) { return std::make_shared<TaggingHeadImpl>(options, context); },
    data::TargetLayout{at::kLong, 2, data::TargetLayout::Trim::ToInputs});

}  // namespace
}  // namespace mtl::model
