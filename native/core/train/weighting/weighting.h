// Loss weighting: how the per-task losses of one step become the gradient the optimizer sees.
// Every method is one file in this folder behind LossWeighting; makeWeighting() picks one.
//
// The trainer calls combine() once per step with the differentiable losses of the step's tasks
// (and, for methods that ask for them, the per-task gradients of the shared parameters, flattened
// into rows of a [K, P] matrix). The method returns
//   objective       a scalar to backward: through every parameter, or only through the
//                   task-specific ones when sharedGradient is defined;
//   sharedGradient  (gradient surgery: PCGrad, CAGrad) the combined gradient of the shared
//                   parameters, flattened like the rows of taskGradients;
//   lambdas         the weight of each task this step, reported in progress events.
// Learned weightings (uncertainty, GradNorm, FAMO) own their parameters and a small Adam
// optimizer of their own, stepped in afterBackward(), so they are independent of the model's
// optimizer and can be tested alone.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/train/state.h"

namespace mtl::train {

// Which per-task gradients a method needs before it can combine.
enum class GradientNeed {
  None,        // losses are enough
  Shared,      // gradients of every shared parameter (PCGrad, CAGrad, Nash-MTL)
  LastShared,  // gradients of the last shared layer only (GradNorm, as in the paper)
};

struct WeightingConfig {
  std::string method = "equal";  // equal | fixed | sigmoidLoss | uncertainty | dwa | gradNorm | pcgrad | cagrad | famo | nashMtl
  std::map<std::string, double> weights;  // fixed
  double temperature = 2.0;               // dwa
  double alpha = 1.5;                     // gradNorm
  double c = 0.4;                         // cagrad
  double lr = 0.025;                      // learned methods' own Adam learning rate
  double weightDecay = 0.001;             // famo (its γ)
  uint64_t seed = 0;                      // pcgrad's projection order
};

struct StepContext {
  int64_t step = 0;   // optimizer steps done before this one
  int64_t epoch = 0;  // epoch of this step
};

struct Combination {
  at::Tensor objective;
  at::Tensor sharedGradient;  // undefined unless the method rewrites the shared gradient
  std::vector<double> lambdas;
};

class LossWeighting {
 public:
  virtual ~LossWeighting() = default;
  virtual std::string name() const = 0;
  virtual GradientNeed gradientNeed() const { return GradientNeed::None; }
  // Whether the method needs every task in every step (gradient-based methods compare tasks;
  // FAMO tracks every task's loss from step to step).
  virtual bool needsAllTasksEachStep() const { return false; }

  // `tasks` are indices into the trainer's task list (the order of `taskNames`), `losses[i]` the
  // loss of tasks[i]. `taskGradients` is [tasks.size(), P] when gradientNeed() != None.
  virtual Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses,
                              const at::Tensor& taskGradients, const StepContext& context) = 0;
  // After the objective's backward: learned methods update their own parameters here.
  virtual void afterBackward() {}

  // Learned parameters (for tests and reports); empty for the rest.
  virtual std::vector<at::Tensor> parameters() const { return {}; }
  virtual void saveState(State& state, const std::string& prefix) const {}
  virtual void loadState(const State& state, const std::string& prefix) {}
};

// taskNames fixes the order of the weighting's per-task state. Unknown methods and bad options
// throw std::invalid_argument naming the field.
std::unique_ptr<LossWeighting> makeWeighting(const WeightingConfig& config, const std::vector<std::string>& taskNames);

// Σ λᵢ Lᵢ with constant λ: the objective of every method whose weights are plain numbers.
at::Tensor weightedSum(const std::vector<at::Tensor>& losses, const std::vector<double>& lambdas);

}  // namespace mtl::train
