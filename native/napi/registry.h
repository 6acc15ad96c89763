// exports.registry(): what the core's registries hold (names, defaults, capabilities of every
// sharing scheme, head, weighting method, sampler, strategy, optimizer and schedule) and the
// defaults of the core's option structs, for the TypeScript schemas (lib/schema.ts), which take
// every default from here.
#pragma once
#include <napi.h>

namespace mtl::napi {

void InitRegistry(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
