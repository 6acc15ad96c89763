// The model's optimizer: torch::optim::AdamW or SGD over parameter groups built from the model's
// ParameterGroups, so that PyTorch's semantics (and its reference runs) carry over exactly.
#pragma once
#include <torch/optim/optimizer.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/train/state.h"
#include "core/train/trainable_model.h"

namespace mtl::train {

struct OptimizerConfig {
  std::string kind = "adamW";  // adamW | sgd
  double lr = 1e-3;
  double weightDecay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adamW
  double momentum = 0.0;                          // sgd
  bool nesterov = false;                          // sgd
  // Learning rate of a model part (a ParameterGroup name such as "shared" or "task:sst2"),
  // replacing `lr` for that part.
  std::map<std::string, double> partLearningRates;
};

// One torch::optim param group per (model part, decays?) pair. Weight decay is not applied to
// 1-D parameters (biases, LayerNorm weights), as transformers' training recipes do.
struct BuiltOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> baseLearningRates;  // per torch param group, before the schedule
  std::vector<std::string> groupNames;    // "shared", "shared/no_decay", ...
};

BuiltOptimizer buildOptimizer(const OptimizerConfig& config, const std::vector<ParameterGroup>& groups);

void setGroupLearningRate(torch::optim::Optimizer& optimizer, size_t group, double lr);

// The per-parameter state (moments, momentum buffers, step counts), keyed by the parameter's
// position across param groups, so it survives a process restart where addresses change.
void saveOptimizerState(const torch::optim::Optimizer& optimizer, State& state, const std::string& prefix);
void loadOptimizerState(torch::optim::Optimizer& optimizer, const State& state, const std::string& prefix);

}  // namespace mtl::train
