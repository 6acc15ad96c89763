// Per-environment state of the addon (one per Node.js thread that loads it).
#pragma once
#include <napi.h>

#include <memory>

namespace mtl::napi {

struct AddonData {
  Napi::FunctionReference datasetConstructor;
  Napi::FunctionReference modelConstructor;
  Napi::FunctionReference errorClass;  // TorchError, registered by lib/native.ts
};

AddonData& addonData(Napi::Env env);

}  // namespace mtl::napi
