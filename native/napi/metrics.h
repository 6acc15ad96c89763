// Binding of native/core/metrics: registers exports.metrics.
#pragma once
#include <napi.h>

namespace mtl::napi {

void InitMetrics(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
