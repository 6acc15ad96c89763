// The factories of the weighting methods, one per file of this folder; only weighting.cc calls
// them (through makeWeighting).
#pragma once
#include <torch/optim/adam.h>

#include "core/train/weighting/weighting.h"

namespace mtl::train::weighting {

using Names = std::vector<std::string>;
std::unique_ptr<LossWeighting> makeEqual(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeFixed(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeSigmoidLoss(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeUncertainty(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeDwa(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeGradNorm(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makePcgrad(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeCagrad(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeFamo(const WeightingConfig&, const Names&);
std::unique_ptr<LossWeighting> makeNashMtl(const WeightingConfig&, const Names&);

// torch::optim::Adam over one learned weighting parameter, with its state saved alongside the
// weighting's (torch.optim.Adam in the references).
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

}  // namespace mtl::train::weighting
