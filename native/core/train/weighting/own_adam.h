// torch::optim::Adam over one learned weighting parameter, with its state saved alongside the
// weighting's (torch.optim.Adam in the references). Used by the learned weightings.
#pragma once
#include <ATen/ATen.h>
#include <torch/optim/adam.h>

#include <memory>
#include <string>

#include "core/train/state.h"

namespace mtl::train {

class OwnAdam {
 public:
  OwnAdam(at::Tensor parameter, double lr, double weightDecay);
  ~OwnAdam();
  // Sets the parameter's gradient and takes one Adam step.
  void step(const at::Tensor& gradient);
  void saveState(State& state, const std::string& prefix) const;
  void loadState(const State& state, const std::string& prefix);
  const at::Tensor& parameter() const { return parameter_; }

 private:
  at::Tensor parameter_;
  std::unique_ptr<torch::optim::Adam> adam_;
};

}  // namespace mtl::train
