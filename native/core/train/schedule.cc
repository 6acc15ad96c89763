#include "core/train/schedule.h"

#include <algorithm>
#include <cmath>

namespace mtl::train {

namespace {

const bool registered = [] {
  auto& registry = Registry<ScheduleEntry>::instance();
  const Options defaults(ScheduleConfig{});
  registry.add("constant", {defaults, Options::object(), [](double) { return 1.0; }});
  registry.add("warmupLinear", {defaults, Options::object(), [](double p) { return std::max(0.0, 1.0 - p); }});
  registry.add("warmupCosine", {defaults, Options::object(), [](double p) { return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * p))); }});
  return true;
}();

}  // namespace

Schedule::Schedule(const Options& options)
    : config_(readOptions<ScheduleConfig>(options)),
      decay_(Registry<ScheduleEntry>::instance().at(options.at("kind").get<std::string>()).decay) {}

double Schedule::factor(int64_t step, int64_t totalSteps) const {
  const int64_t total = config_.totalSteps > 0 ? config_.totalSteps : totalSteps;
  const int64_t warmup = config_.warmupSteps;
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  return decay_(static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

}  // namespace mtl::train
