// Loss weighting: how the per-task losses of one step become the gradient the optimizer sees.
// Every method is one file in this folder that registers itself (registry.h): its name, its
// options struct (with the defaults), its capabilities and its factory.
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
// optimizer of their own (own_adam.h), stepped in afterBackward(), so they are independent of
// the model's optimizer and can be tested alone.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/train/state.h"

namespace mtl::train {

// Which per-task gradients a method needs before it can combine.
enum class GradientNeed {
  None,        // losses are enough
  Shared,      // gradients of every shared parameter (PCGrad, CAGrad, Nash-MTL)
  LastShared,  // gradients of the last shared layer only (GradNorm, as in the paper)
};
NLOHMANN_JSON_SERIALIZE_ENUM(GradientNeed,
                             {{GradientNeed::None, "none"}, {GradientNeed::Shared, "shared"}, {GradientNeed::LastShared, "lastShared"}})

struct WeightingCapabilities {
  GradientNeed gradients = GradientNeed::None;
  // The method compares or tracks every task's loss or gradient in every step, so a strategy
  // that trains a subset of the tasks per step cannot drive it.
  bool needsAllTasksEachStep = false;
  // The method treats the trainer's `main` tasks apart from the auxiliary ones (auxiliary.h):
  // it needs `main`, and at least one auxiliary task.
  bool usesMain = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WeightingCapabilities, gradients, needsAllTasksEachStep, usesMain)

// What a factory gets besides its options.
struct WeightingContext {
  std::vector<std::string> taskNames;  // fixes the order of the method's per-task state
  uint64_t seed = 0;                   // the trainer's seed (PCGrad's projection order)
  std::vector<std::string> main;       // the trainer's main tasks (empty: every task counts alike)
  std::vector<int64_t> sharedSizes;    // numel of each shared parameter, in taskGradients' column order
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
  const std::string& name() const { return name_; }
  const WeightingCapabilities& capabilities() const { return capabilities_; }

  // `tasks` are indices into the trainer's task list, `losses[i]` the loss of tasks[i] and
  // `lossValues[i]` its value (read once per step by the trainer, so methods that look at the
  // values need no host sync of their own). `taskGradients` is [tasks.size(), P] when the method
  // needs gradients.
  virtual Combination combine(const std::vector<int64_t>& tasks, const std::vector<at::Tensor>& losses,
                              const std::vector<double>& lossValues, const at::Tensor& taskGradients, const StepContext& context) = 0;
  // At the start of every step, before its first combine(): a method that gathers numbers over a
  // step's micro-batches starts afresh here (a step skipped for a NaN loss or an fp16 overflow ends
  // before afterBackward/afterStep, and what it gathered must not leak into the next one).
  virtual void beginStep() {}
  // After the objective's backward: learned methods update their own parameters here.
  virtual void afterBackward() {}
  // True when the method learns from the losses of this step's batches after the optimizer step
  // (FAMO, as its authors): the trainer then runs one more forward, without gradients, on the same
  // batches and hands their loss values (the step's tasks' order, averaged over micro-batches and
  // ranks) to afterStep().
  virtual bool wantsLossesAfterStep() const { return false; }
  virtual void afterStep(const std::vector<double>& lossValues) {}

  // Learned parameters (for reports); empty for the rest.
  virtual std::vector<at::Tensor> parameters() const { return {}; }
  virtual void saveState(State& state, const std::string& prefix) const {}
  virtual void loadState(const State& state, const std::string& prefix) {}

 private:
  friend std::unique_ptr<LossWeighting> makeWeighting(const Options&, const WeightingContext&);
  std::string name_;
  WeightingCapabilities capabilities_;
};

inline constexpr char kWeightingConcept[] = "weighting";
using WeightingEntry = KindEntry<kWeightingConcept, std::unique_ptr<LossWeighting>, WeightingContext>;
template <typename MethodOptions>
using RegisterWeighting = Register<WeightingEntry, MethodOptions>;

// The method `options["kind"]` with its options.
std::unique_ptr<LossWeighting> makeWeighting(const Options& options, const WeightingContext& context);

// Σ λᵢ Lᵢ with constant λ: the objective of every method whose weights are plain numbers.
at::Tensor weightedSum(const std::vector<at::Tensor>& losses, const std::vector<double>& lambdas);

}  // namespace mtl::train
