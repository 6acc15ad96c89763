// Conversion of the plain option objects lib/train builds (already validated there) into the
// core's config structs, and of batches and data set maps. Missing fields take the core defaults.
#pragma once
#include <napi.h>

#include <map>
#include <string>

#include "core/train/testing/reference_model.h"
#include "core/train/trainer.h"

namespace mtl::napi {

train::WeightingConfig weightingConfigOf(const Napi::Value& value);
train::SamplerConfig samplerConfigOf(const Napi::Value& value);
train::TrainerOptions trainerOptionsOf(const Napi::Value& value);
train::FitOptions fitOptionsOf(const Napi::Value& value);
train::testing::ReferenceModelConfig referenceModelConfigOf(const Napi::Value& value);

// { task: NativeDataset } → core data sets.
train::Datasets datasetsOf(const Napi::Value& value, const char* what);
// { indices?, inputIds, lengths, tokenTypeIds?, targets, targetLengths?, features? } of tensors.
data::Batch batchOf(const Napi::Value& value, const std::string& what);

Napi::Object metricsToObject(Napi::Env env, const train::Metrics& metrics);
Napi::Object numbersToObject(Napi::Env env, const std::map<std::string, double>& values);
Napi::Object eventToObject(Napi::Env env, const train::ProgressEvent& event);

}  // namespace mtl::napi
