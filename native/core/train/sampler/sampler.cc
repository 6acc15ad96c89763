#include "core/train/sampler/sampler.h"

#include <stdexcept>

#include "core/train/sampler/samplers.h"

namespace mtl::train {

std::unique_ptr<TaskSampler> makeSampler(const SamplerConfig& config, const std::vector<int64_t>& sizes, uint64_t seed) {
  if (sizes.empty()) throw std::invalid_argument("sampler: there are no tasks to sample");
  for (int64_t size : sizes) {
    if (size <= 0) throw std::invalid_argument("sampler: every task needs a non-empty data set");
  }
  if (config.kind == "proportional") return sampler::makeCategorical(sizes, 1.0, seed);
  if (config.kind == "temperature") {
    if (!(config.temperature > 0)) throw std::invalid_argument("sampler.temperature: 'temperature' must be positive");
    return sampler::makeCategorical(sizes, config.temperature, seed);
  }
  if (config.kind == "uniform") return sampler::makeCategorical(sizes, std::numeric_limits<double>::infinity(), seed);
  if (config.kind == "roundRobin") return sampler::makeRoundRobin(static_cast<int64_t>(sizes.size()));
  throw std::invalid_argument("sampler: unknown kind '" + config.kind + "'");
}

}  // namespace mtl::train
