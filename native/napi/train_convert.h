// JavaScript values of the training bindings: data set maps, batches (one reader for every
// binding that takes a batch), and the trainer's results and events.
#pragma once
#include <napi.h>

#include <map>
#include <string>

#include "core/train/trainer.h"

namespace mtl::napi {

// { task: NativeDataset } → core data sets.
train::Datasets datasetsOf(const Napi::Value& value, const char* what);
// { indices?, inputIds?, lengths?, tokenTypeIds?, targets?, targetLengths?, features? } of tensors.
data::Batch batchOf(const Napi::Value& value, const std::string& what);
// { task: batch } → core batches.
std::map<std::string, data::Batch> batchesOf(const Napi::Value& value, const std::string& what);

Napi::Object metricsToObject(Napi::Env env, const train::Metrics& metrics);
Napi::Object numbersToObject(Napi::Env env, const std::map<std::string, double>& values);
Napi::Object eventToObject(Napi::Env env, const train::ProgressEvent& event);

}  // namespace mtl::napi
