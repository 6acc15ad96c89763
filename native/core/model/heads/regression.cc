// regression(): one value per example (B), mean squared error.
#include "core/model/heads/pooled.h"

namespace mtl::model {
namespace {

class RegressionHeadImpl : public PooledHeadImpl {
 public:
  using PooledHeadImpl::PooledHeadImpl;
  at::Tensor forward(const Encoded& encoded, const data::Batch& batch) override {
    return PooledHeadImpl::forward(encoded, batch).squeeze(-1);
  }
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    return at::mse_loss(outputs, batch.targets.to(outputs.scalar_type()));
  }
  at::Tensor predict(const Encoded& encoded, const data::Batch& batch) override { return forward(encoded, batch); }
};

}  // namespace

std::shared_ptr<HeadImpl> makeRegressionHead(const HeadConfig& head, const HeadContext& context) {
  HeadConfig single = head;
  single.outputs = 1;
  return std::make_shared<RegressionHeadImpl>(single, context);
}

}  // namespace mtl::model
