// Dynamic loss scaling for fp16 training, as torch.cuda.amp.GradScaler: the objective is
// multiplied by the scale before backward; before the optimizer step the gradients are unscaled
// and checked for Inf/NaN in one fused pass (no host sync per parameter); on overflow the step is
// skipped and the scale halved, after `growthInterval` clean steps it doubles. Inactive (scale 1,
// never skips) unless enabled.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/train/state.h"

namespace mtl::train {

class LossScaler {
 public:
  explicit LossScaler(bool enabled) : enabled_(enabled), scale_(enabled ? 65536.0 : 1.0) {}
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  // Unscales the gradients in place; false (and the scale lowered) when any is not finite.
  bool unscaleAndCheck(const std::vector<at::Tensor>& parameters);
  void saveState(State& state, const std::string& prefix) const;
  void loadState(const State& state, const std::string& prefix);

 private:
  static constexpr int64_t kGrowthInterval = 2000;
  bool enabled_;
  double scale_;
  int64_t cleanSteps_ = 0;
};

}  // namespace mtl::train
