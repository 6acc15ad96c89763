#include "core/train/loss_scaler.h"

#include <cmath>
#include <map>

namespace mtl::train {

bool LossScaler::unscaleFinite(const std::vector<at::Tensor>& tensors) const {
  const auto options = at::TensorOptions().dtype(at::kFloat).device(tensors.front().device());
  at::Tensor foundInf = at::zeros({1}, options);
  const at::Tensor inverse = at::full({1}, 1.0 / scale_, options);
  at::_amp_foreach_non_finite_check_and_unscale_(tensors, foundInf, inverse);
  return foundInf.item<float>() == 0;
}

void LossScaler::lower() {
  scale_ *= 0.5;
  cleanSteps_ = 0;
}

bool LossScaler::unscaleAndCheck(const std::vector<at::Tensor>& parameters) {
  if (!enabled_) return true;
  // The fused kernel wants the gradients of one device together; a model lives on one device.
  std::vector<at::Tensor> grads;
  for (const auto& p : parameters) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return true;
  const bool finite = unscaleFinite(grads);  // the step's one host sync for scaling
  if (!finite) {
    lower();
  } else if (++cleanSteps_ >= kGrowthInterval) {
    scale_ *= 2.0;
    cleanSteps_ = 0;
  }
  return finite;
}

bool LossScaler::unscaleTaskGradients(at::Tensor& rows) {
  if (!enabled_ || !rows.defined() || rows.numel() == 0) return true;
  const bool finite = unscaleFinite({rows});
  if (!finite) lower();
  return finite;
}

void LossScaler::saveState(State& state, const std::string& prefix) const {
  putDouble(state, prefix + "scale", scale_);
  putInt(state, prefix + "clean_steps", cleanSteps_);
}

void LossScaler::loadState(const State& state, const std::string& prefix) {
  const double scale = getDouble(state, prefix + "scale");
  if (!(scale > 0) || !std::isfinite(scale)) throw std::invalid_argument("checkpoint: '" + prefix + "scale' must be a finite number > 0");
  cleanSteps_ = getIntIn(state, prefix + "clean_steps", 0, std::numeric_limits<int64_t>::max());
  scale_ = scale;
}

}  // namespace mtl::train
