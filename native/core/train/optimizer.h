// The model's optimizer: torch::optim::AdamW or SGD over parameter groups built from the model's
// ParameterGroups, so that PyTorch's semantics (and its reference runs) carry over exactly. Both
// kinds register in a registry (registry.h) with their options' defaults.
#pragma once
#include <torch/optim/optimizer.h>

#include <functional>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/train/state.h"
#include "core/train/trainable_model.h"

namespace mtl::train {

// One torch::optim param group per (model part, decays?) pair. Weight decay is not applied to
// 1-D parameters (biases, LayerNorm weights), as transformers' training recipes do.
struct BuiltOptimizer {
  std::string kind;  // the registry name (checkpoints record it)
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> baseLearningRates;  // per torch param group, before the schedule
  std::vector<std::string> groupNames;    // "shared", "shared/no_decay", ...
};

struct OptimizerEntry {
  static constexpr const char* kConcept = "optimizer";
  Options defaults;
  Options capabilities;
  std::function<BuiltOptimizer(const Options&, const std::vector<ParameterGroup>&)> make;
};

// The optimizer `options["kind"]` (adamW | sgd) over the model's parameter groups.
BuiltOptimizer buildOptimizer(const Options& options, const std::vector<ParameterGroup>& groups);

void setGroupLearningRate(torch::optim::Optimizer& optimizer, size_t group, double lr);

// The per-parameter state (moments, momentum buffers, step counts), keyed by the parameter's
// position across param groups, so it survives a process restart where addresses change.
void saveOptimizerState(const torch::optim::Optimizer& optimizer, State& state, const std::string& prefix);
// Every entry is checked (shape, dtype, finite values, ranges) before the optimizer changes.
void loadOptimizerState(torch::optim::Optimizer& optimizer, const State& state, const std::string& prefix);

// "name:count,..." of the torch param groups, as checkpoints record them (a resumed run must have
// the same groups, in the same order, of the same sizes).
std::string describeParameterGroups(const BuiltOptimizer& built);

}  // namespace mtl::train
