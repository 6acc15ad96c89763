// The binding of native/core/model: NativeMultiTaskModel, one ObjectWrap holding a
// MultiTaskModelImpl built from a plain config object (validated by lib/model first).
#pragma once
#include <napi.h>

#include <memory>

#include "core/model/multitask_model.h"
#include "napi/trainable.h"

namespace mtl::napi {

// A TrainableSource: mt.Trainer drives it (napi/trainable.h).
class NativeMultiTaskModel : public Napi::ObjectWrap<NativeMultiTaskModel>, public TrainableSource {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeMultiTaskModel(const Napi::CallbackInfo& info);
  // The core model of a JavaScript handle (for the trainer binding), or an ArgumentError.
  static std::shared_ptr<model::MultiTaskModelImpl> ModelOf(const Napi::Value& value, const char* what);
  ModelLease lease() override { return {model_, busy_}; }

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value AddTask(const Napi::CallbackInfo& info);
  Napi::Value Summary(const Napi::CallbackInfo& info);
  Napi::Value NamedParameters(const Napi::CallbackInfo& info);
  Napi::Value NamedBuffers(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value SetTrainable(const Napi::CallbackInfo& info);
  Napi::Value PartParameterNames(const Napi::CallbackInfo& info);
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value IsTraining(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value SharedEncoderRuns(const Napi::CallbackInfo& info);
  Napi::Value ParameterGroups(const Napi::CallbackInfo& info);

  std::shared_ptr<model::MultiTaskModelImpl> model_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace mtl::napi
