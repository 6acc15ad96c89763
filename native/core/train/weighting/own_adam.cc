#include "core/train/weighting/own_adam.h"

#include "core/train/optimizer.h"

namespace mtl::train {

OwnAdam::OwnAdam(at::Tensor parameter, double lr, double weightDecay) : parameter_(std::move(parameter)) {
  adam_ =
      std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{parameter_}, torch::optim::AdamOptions(lr).weight_decay(weightDecay));
}

OwnAdam::~OwnAdam() = default;

void OwnAdam::step(const at::Tensor& gradient) {
  parameter_.mutable_grad() = gradient.detach().clone();
  adam_->step();
  parameter_.mutable_grad() = at::Tensor();  // the next backward starts from nothing
}

void OwnAdam::saveState(State& state, const std::string& prefix) const { saveOptimizerState(*adam_, state, prefix); }
void OwnAdam::loadState(const State& state, const std::string& prefix) { loadOptimizerState(*adam_, state, prefix); }

}  // namespace mtl::train
