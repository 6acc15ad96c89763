// The training bindings: the reference model, the trainer, and the weighting and sampler handles
// that tests use to check each method alone. InitTraining registers them all.
#pragma once
#include <napi.h>

#include "napi/trainable.h"

namespace mtl::napi {

void InitTraining(Napi::Env env, Napi::Object exports);

void InitReferenceModel(Napi::Env env, Napi::Object exports);
void InitTrainer(Napi::Env env, Napi::Object exports);
void InitTrainParts(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
