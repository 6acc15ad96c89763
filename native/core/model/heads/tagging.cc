// tagging({ classes }): one label per input position, logits (B, L, classes) from a Linear `out`
// over the encoder output. Targets (B, L) are ignored where they equal ignoreIndex and at padding
// positions; predictions are class ids (B, L), ignoreIndex at padding.
#include <torch/nn/modules/linear.h>

#include "core/model/head.h"

namespace mtl::model {
namespace {

class TaggingHeadImpl : public HeadImpl {
 public:
  TaggingHeadImpl(const HeadConfig& head, const HeadContext& context) : head_(head) {
    out_ = register_module("out", torch::nn::Linear(context.config.encoder.dModel, head.outputs));
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
    if (batch.lengths.defined()) targets = targets.masked_fill(paddingOf(batch, outputs), head_.ignoreIndex);
    return crossEntropy(outputs, targets, head_);
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override {
    const at::Tensor logits = forward(encoded, batch);
    return logits.argmax(-1).masked_fill(encoded.paddingMask, head_.ignoreIndex);
  }

 private:
  static at::Tensor paddingOf(const data::Batch& batch, const at::Tensor& outputs) {
    const at::Tensor positions = at::arange(outputs.size(1), batch.lengths.options().dtype(at::kLong));
    return positions.unsqueeze(0).ge(batch.lengths.to(at::kLong).unsqueeze(1)).to(outputs.device());
  }
  HeadConfig head_;
  torch::nn::Linear out_{nullptr};
};

}  // namespace

std::shared_ptr<HeadImpl> makeTaggingHead(const HeadConfig& head, const HeadContext& context) {
  return std::make_shared<TaggingHeadImpl>(head, context);
}

}  // namespace mtl::model
