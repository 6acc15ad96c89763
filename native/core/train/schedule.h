// Learning-rate schedules, as transformers' get_{constant,linear,cosine}_schedule_with_warmup:
// the factor f(s) multiplying each param group's base rate at optimizer step s (0-based):
//   warm-up       s < W:  f = s / W
//   then          f = decay(p),  p = (s − W) / (S − W)
//     constant      decay = 1
//     warmupLinear  decay = max(0, 1 − p)
//     warmupCosine  decay = max(0, ½(1 + cos(π·p)))   (half a cycle)
// S is totalSteps, or the run's total optimizer steps when it is 0. Each kind registers itself
// (registry.h) with the shared options' defaults.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/registry.h"

namespace mtl::train {

struct ScheduleConfig {
  int64_t warmupSteps = 0;
  int64_t totalSteps = 0;  // 0: the fit's total steps
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ScheduleConfig, warmupSteps, totalSteps)

// A schedule kind is its decay after the warm-up; every kind shares ScheduleConfig's options.
struct ScheduleEntry {
  static constexpr const char* kConcept = "schedule";
  Options defaults;
  Options capabilities;
  std::function<double(double progress)> decay;
};

class Schedule {
 public:
  // The schedule `options["kind"]`.
  explicit Schedule(const Options& options);
  double factor(int64_t step, int64_t totalSteps) const;

 private:
  ScheduleConfig config_;
  std::function<double(double)> decay_;
};

}  // namespace mtl::train
