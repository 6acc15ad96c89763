// Named tensor lists across the boundary, as { names: string[], tensors: NativeTensor[] } (the
// shape lib/ uses for state dicts), and the load_state_dict report. Shared by the bindings that
// expose a module's parameters.
#pragma once
#include <napi.h>

#include "core/nn/state_dict.h"
#include "napi/convert.h"

namespace mtl::napi {

Napi::Value namedTensorsToJs(Napi::Env env, const nn::NamedTensors& items);
nn::NamedTensors namedTensorsFromArgs(const Args& args, size_t namesIndex, size_t tensorsIndex);
Napi::Value stateDictMismatchToJs(Napi::Env env, const nn::StateDictMismatch& mismatch);

}  // namespace mtl::napi
