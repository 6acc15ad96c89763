#include "core/train/sampler/sampler.h"

namespace mtl::train {

std::unique_ptr<TaskSampler> makeSampler(const Options& options, const SamplerContext& context) {
  return Registry<SamplerEntry>::instance().at(options.at("kind").get<std::string>()).make(options, context);
}

}  // namespace mtl::train
