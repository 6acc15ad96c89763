// classification({ classes, decoderLayers }): logits (B, classes), cross-entropy with ignore index
// and label smoothing; predictions are class ids.
#include "core/model/heads/pooled.h"

namespace mtl::model {
namespace {

class ClassificationHeadImpl : public PooledHeadImpl {
 public:
  using PooledHeadImpl::PooledHeadImpl;
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    return crossEntropy(outputs, batch.targets, head_);
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override {
    return forward(encoded, batch).argmax(-1);
  }
};

}  // namespace

std::shared_ptr<HeadImpl> makeClassificationHead(const HeadConfig& head, const HeadContext& context) {
  return std::make_shared<ClassificationHeadImpl>(head, context);
}

}  // namespace mtl::model
