// EvalMode: switches a module tree to eval mode (no dropout) for a scope and restores the mode it
// found on leaving it, also when the scope throws. Inference (predict, generate, evaluation,
// diagnostics) runs under it, so the same input gives the same output whatever mode the caller left.
#pragma once
#include <torch/nn/module.h>

namespace mtl::nn {

class EvalMode {
 public:
  explicit EvalMode(torch::nn::Module& module) : module_(module), training_(module.is_training()) {
    if (training_) module_.eval();
  }
  ~EvalMode() {
    if (training_) module_.train(true);
  }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  torch::nn::Module& module_;
  bool training_;
};

}  // namespace mtl::nn
