#include "napi/registry.h"

#include "core/model/head.h"
#include "core/model/multitask_model.h"
#include "core/model/pretrained.h"
#include "core/model/sharing.h"
#include "core/train/optimizer.h"
#include "core/train/options.h"
#include "core/train/sampler/sampler.h"
#include "core/train/schedule.h"
#include "core/train/strategy/strategy.h"
#include "core/train/weighting/weighting.h"
#include "napi/errors.h"
#include "napi/json_value.h"

namespace mtl::napi {

namespace {

Options describeEverything() {
  return {
      {"sharing", describeRegistry<model::SharingEntry>()},
      {"head", describeRegistry<model::HeadEntry>()},
      {"weighting", describeRegistry<train::WeightingEntry>()},
      {"sampler", describeRegistry<train::SamplerEntry>()},
      {"strategy", describeRegistry<train::StrategyEntry>()},
      {"optimizer", describeRegistry<train::OptimizerEntry>()},
      {"schedule", describeRegistry<train::ScheduleEntry>()},
      {"pretrained", describeRegistry<model::pretrained::FamilyEntry>()},
      {"defaults",
       {{"input", Options(model::InputConfig{})},
        {"encoder", Options(model::EncoderConfig{})},
        {"generate", Options(model::GenerateOptions{})},
        {"trainer", Options(train::TrainerOptions{})},
        {"fit", Options(train::FitSettings{})},
        {"earlyStopping", Options(train::EarlyStopping{})}}},
  };
}

Napi::Value Registry(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return valueOf(info.Env(), describeEverything()); });
}

}  // namespace

void InitRegistry(Napi::Env env, Napi::Object exports) { exports.Set("registry", Napi::Function::New(env, Registry, "registry")); }

}  // namespace mtl::napi
