// The trainer binding: NativeTrainer, whose fit() and evaluate() run on a worker thread.
#pragma once
#include <napi.h>

namespace mtl::napi {

void InitTrainer(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
