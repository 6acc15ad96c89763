// multiLabel({ labels }): one logit per label (B, labels), binary cross-entropy with logits
// (targets 0/1 or soft); predictions are 0/1 (sigmoid > 0.5, i.e. logit > 0).
#include "core/model/heads/pooled.h"

namespace mtl::model {
namespace {

class MultiLabelHeadImpl : public PooledHeadImpl {
 public:
  using PooledHeadImpl::PooledHeadImpl;
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    return at::binary_cross_entropy_with_logits(outputs, batch.targets.to(outputs.scalar_type()));
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override {
    return forward(encoded, batch).gt(0).to(at::kLong);
  }
};

}  // namespace

std::shared_ptr<HeadImpl> makeMultiLabelHead(const HeadConfig& head, const HeadContext& context) {
  return std::make_shared<MultiLabelHeadImpl>(head, context);
}

}  // namespace mtl::model
