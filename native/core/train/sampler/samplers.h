// The sampler factories, one per file of this folder; only sampler.cc calls them.
#pragma once
#include <limits>

#include "core/train/sampler/sampler.h"

namespace mtl::train::sampler {

// temperature = infinity gives the uniform distribution.
std::unique_ptr<TaskSampler> makeCategorical(const std::vector<int64_t>& sizes, double temperature, uint64_t seed);
std::unique_ptr<TaskSampler> makeRoundRobin(int64_t tasks);

}  // namespace mtl::train::sampler
