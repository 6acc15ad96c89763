#include "core/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace mtl::train {

double learningRateFactor(const ScheduleConfig& config, int64_t step, int64_t totalSteps) {
  const int64_t total = config.totalSteps > 0 ? config.totalSteps : totalSteps;
  const int64_t warmup = config.warmupSteps;
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (config.kind == "constant") return 1.0;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  if (config.kind == "linear") {
    return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  }
  if (config.kind == "cosine") return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 0.5 * 2.0 * progress)));
  throw std::invalid_argument("schedule: unknown kind '" + config.kind + "'");
}

}  // namespace mtl::train
