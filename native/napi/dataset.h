// The native side of mt.data.Dataset: a JavaScript handle owning a core Dataset.
#pragma once
#include <napi.h>
#include <memory>

#include "core/data/dataset.h"

namespace mtl::napi {

class DatasetHandle : public Napi::ObjectWrap<DatasetHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // The core data set behind a JavaScript NativeDataset, or an ArgumentError naming `what`. Shared,
  // so that a native job (the trainer) keeps it alive even if JavaScript disposes the handle.
  static std::shared_ptr<const data::Dataset> DatasetOf(const Napi::Value& value, const char* what);

  explicit DatasetHandle(const Napi::CallbackInfo& info);

 private:
  const data::Dataset& dataset() const;
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value MaxLength(const Napi::CallbackInfo& info);
  Napi::Value PadId(const Napi::CallbackInfo& info);
  Napi::Value TargetKind(const Napi::CallbackInfo& info);
  Napi::Value Batch(const Napi::CallbackInfo& info);
  Napi::Value BatchIndices(const Napi::CallbackInfo& info);
  Napi::Value ShuffledOrder(const Napi::CallbackInfo& info);
  Napi::Value Tensors(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  std::shared_ptr<const data::Dataset> dataset_;
  int64_t accountedBytes_ = 0;
};

}  // namespace mtl::napi
