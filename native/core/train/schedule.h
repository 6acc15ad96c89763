// Learning-rate schedules, as transformers' get_{constant,linear,cosine}_schedule_with_warmup:
// the factor f(s) multiplying each param group's base rate at optimizer step s (0-based):
//   warm-up   s < W:  f = s / W
//   linear    f = max(0, (S − s) / (S − W))
//   cosine    f = max(0, ½(1 + cos(π·cycles·2·p))),  p = (s − W)/(S − W), cycles = ½
//   constant  f = 1
// S is the run's total optimizer steps.
#pragma once
#include <cstdint>
#include <string>

namespace mtl::train {

struct ScheduleConfig {
  std::string kind = "constant";  // constant | linear | cosine
  int64_t warmupSteps = 0;
  // The step count S the decay reaches 0 at; 0 means the fit's total steps.
  int64_t totalSteps = 0;
};

double learningRateFactor(const ScheduleConfig& config, int64_t step, int64_t totalSteps);

}  // namespace mtl::train
