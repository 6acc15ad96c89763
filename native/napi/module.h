// The binding of native/core/nn: one ObjectWrap, NativeModule, for every block kind (built from a
// kind name and an options object, with a forward adapter per kind and generic module methods),
// plus the attention functions of mt.nn.functional.
#pragma once
#include <napi.h>

namespace mtl::napi {

// Registers NativeModule, the decoder-cache functions and exports.nnFunctional.
void InitModules(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
