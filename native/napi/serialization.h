// Bindings of native/core/safetensors: saveSafetensors and loadSafetensors.
#pragma once
#include <napi.h>

namespace mtl::napi {

void InitSerialization(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
