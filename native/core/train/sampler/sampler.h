// Task samplers: which task the next step (alternating strategy) or epoch trains, when tasks'
// data sets differ in size. One file per sampler kind behind TaskSampler; makeSampler() picks one.
//   proportional   pᵢ = Nᵢ / Σ Nⱼ                 (Nᵢ: examples of task i)
//   temperature T  pᵢ = Nᵢ^(1/T) / Σ Nⱼ^(1/T)     (T = 1 is proportional, T → ∞ uniform)
//   uniform        pᵢ = 1/K
//   roundRobin     tasks in order 0, 1, …, K−1, 0, 1, …
// Random samplers draw from their own CPU generator (seeded; its state is checkpointed), so the
// model's dropout and the data order never shift each other's random streams.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/train/state.h"

namespace mtl::train {

struct SamplerConfig {
  std::string kind = "proportional";  // proportional | temperature | uniform | roundRobin
  double temperature = 1.0;
};

class TaskSampler {
 public:
  virtual ~TaskSampler() = default;
  // Index of the next task.
  virtual int64_t next() = 0;
  // Probability of each task (for reports and tests).
  virtual std::vector<double> probabilities() const = 0;
  virtual void saveState(State& state, const std::string& prefix) const = 0;
  virtual void loadState(const State& state, const std::string& prefix) = 0;
};

// `sizes` are the tasks' data set sizes (examples), in task order.
std::unique_ptr<TaskSampler> makeSampler(const SamplerConfig& config, const std::vector<int64_t>& sizes, uint64_t seed);

}  // namespace mtl::train
