#include "core/train/strategy/strategy.h"

namespace mtl::train {

StrategyCapabilities strategyCapabilities(const Options& options) {
  return Registry<StrategyEntry>::instance().at(options.at("kind").get<std::string>()).capabilities.get<StrategyCapabilities>();
}

std::unique_ptr<Strategy> makeStrategy(const Options& options, const PlanSetup& setup) {
  return Registry<StrategyEntry>::instance().at(options.at("kind").get<std::string>()).make(options, setup);
}

}  // namespace mtl::train
