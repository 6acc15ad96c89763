// Task samplers: which task the next step (alternating strategy) or epoch trains, and each task's
// share of a step's examples (joint strategy), when tasks' data sets differ in size. Each kind is
// one file in this folder that registers itself (registry.h):
//   proportional   pᵢ = Nᵢ / Σ Nⱼ                 (Nᵢ: examples of task i)
//   temperature T  pᵢ = Nᵢ^(1/T) / Σ Nⱼ^(1/T)     (T = 1 is proportional, T → ∞ uniform)
//   uniform        pᵢ = 1/K
//   roundRobin     tasks in order 0, 1, …, K−1, 0, 1, … (no distribution: no shares)
// Random samplers draw from their own CPU generator (seeded; its state is checkpointed), so the
// model's dropout and the data order never shift each other's random streams.
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

struct SamplerCapabilities {
  // The sampler defines a distribution over tasks (probabilities()), so it can split a joint
  // step's examples among the tasks.
  bool hasDistribution = true;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SamplerCapabilities, hasDistribution)

class TaskSampler {
 public:
  virtual ~TaskSampler() = default;
  // Index of the next task.
  virtual int64_t next() = 0;
  // Probability of each task (empty for samplers without a distribution).
  virtual std::vector<double> probabilities() const = 0;
  virtual void saveState(State& state, const std::string& prefix) const = 0;
  virtual void loadState(const State& state, const std::string& prefix) = 0;
};

struct SamplerContext {
  std::vector<int64_t> sizes;  // the tasks' data set sizes (examples), in task order; all > 0
  uint64_t seed = 0;
};

inline constexpr char kSamplerConcept[] = "sampler";
using SamplerEntry = KindEntry<kSamplerConcept, std::unique_ptr<TaskSampler>, SamplerContext>;
template <typename KindOptions>
using RegisterSampler = Register<SamplerEntry, KindOptions>;

// The sampler `options["kind"]`.
std::unique_ptr<TaskSampler> makeSampler(const Options& options, const SamplerContext& context);

}  // namespace mtl::train
