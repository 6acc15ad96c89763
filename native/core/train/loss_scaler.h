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
  // The per-task gradients that gradient-surgery weightings combine, computed from the scaled
  // losses (so that small gradients survive half precision as the objective's do): unscaled in
  // place; false (and the scale lowered, the step to be skipped) when any is not finite. A clean
  // check does not count as a clean step: unscaleAndCheck counts the step once.
  bool unscaleTaskGradients(at::Tensor& rows);
  void saveState(State& state, const std::string& prefix) const;
  void loadState(const State& state, const std::string& prefix);

 private:
  // Unscales `tensors` (one device) in one fused pass; true when every value was finite. Reads
  // one flag from the device: a host sync.
  bool unscaleFinite(const std::vector<at::Tensor>& tensors) const;
  void lower();

  static constexpr int64_t kGrowthInterval = 2000;
  bool enabled_;
  double scale_;
  int64_t cleanSteps_ = 0;
};

}  // namespace mtl::train
