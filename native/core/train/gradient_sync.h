// The data-parallel seam of the step. A step runs its backward passes between beginBackward()
// and finishBackward(); a data-parallel implementation (c10d: core/distributed/) reduces
// gradient buckets as backward fills them and waits for them in finishBackward(), so that every
// replica clips and steps on the same mean gradient. Values every rank must agree on before they
// are used (per-task losses, per-task gradient rows for gradient surgery, a learned weighting's
// gradient) go through average(). A single process has nothing to reduce: SingleProcess.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace mtl::train {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  // Before the step's first backward, with the parameters the optimizer steps.
  virtual void beginBackward(const std::vector<at::Tensor>& parameters) = 0;
  // After the step's last backward: each parameter's .grad is the mean over ranks (a parameter
  // without a gradient on every rank stays without one).
  virtual void finishBackward(const std::vector<at::Tensor>& parameters) = 0;
  // `values` ← its mean over ranks, in place.
  virtual void average(at::Tensor& values) = 0;
};

class SingleProcess final : public GradientSync {
 public:
  int rank() const override { return 0; }
  int worldSize() const override { return 1; }
  void beginBackward(const std::vector<at::Tensor>&) override {}
  void finishBackward(const std::vector<at::Tensor>&) override {}
  void average(at::Tensor&) override {}
};

}  // namespace mtl::train
