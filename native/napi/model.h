// The binding of native/core/model: NativeMultiTaskModel, one ObjectWrap holding a
// MultiTaskModelImpl built from the config object lib/model validated. The trainer binding drives
// it; while a native job (fit, evaluate, step) runs on it, every change to it is refused.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <vector>

#include "core/model/multitask_model.h"
#include "napi/errors.h"
#include "napi/module_methods.h"

namespace mtl::napi {

// What a trainer holds of a model: the model, and the flag that keeps two native jobs (fit,
// evaluate, step) from running on it at once and refuses changes to it meanwhile.
struct ModelLease {
  std::shared_ptr<model::MultiTaskModelImpl> model;
  std::shared_ptr<std::atomic<bool>> busy;
};

// Marks a model busy for the lifetime of the claim; refuses (BusyError) a busy model. Claimed
// through the lease, the model's parameters and buffers are busy too: tensors the model handed out
// (namedParameters, stateDict) cannot be changed in place or reached by a backward meanwhile
// (refuseIfBusy), which would break the running job's autograd or race its optimizer.
class BusyClaim {
 public:
  BusyClaim() = default;
  explicit BusyClaim(std::shared_ptr<std::atomic<bool>> flag);
  explicit BusyClaim(const ModelLease& lease);
  BusyClaim(BusyClaim&& other) noexcept : flag_(std::move(other.flag_)), storages_(std::move(other.storages_)) {}
  BusyClaim& operator=(BusyClaim&& other) noexcept;
  ~BusyClaim() { release(); }
  void release();

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
  std::vector<const void*> storages_;  // registered as busy while claimed
};

// BusyError when `tensor` shares storage with a parameter or buffer of a model a native job runs
// on; `what` names the operation. One atomic load when no job runs.
void refuseIfBusy(const at::Tensor& tensor, const char* what);
// The same for every leaf a backward from `root` would accumulate gradients into.
void refuseIfBackwardReachesBusy(const at::Tensor& root);

class NativeMultiTaskModel : public Napi::ObjectWrap<NativeMultiTaskModel>, public ModuleMethods<NativeMultiTaskModel> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit NativeMultiTaskModel(const Napi::CallbackInfo& info);
  // The model behind a JavaScript handle (for the trainer binding), or an ArgumentError.
  static ModelLease LeaseOf(const Napi::Value& value, const char* what);

  // ModuleMethods
  torch::nn::Module& module() { return *model_; }
  void beforeChange() const;
  void moveTo(const c10::optional<c10::Device>& device, const c10::optional<at::ScalarType>& dtype);

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Predict(const Napi::CallbackInfo& info);
  Napi::Value SetPrecision(const Napi::CallbackInfo& info);
  Napi::Value Precision(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value PredictTasks(const Napi::CallbackInfo& info);
  Napi::Value AddTask(const Napi::CallbackInfo& info);
  Napi::Value RemoveLastTask(const Napi::CallbackInfo& info);
  Napi::Value Summary(const Napi::CallbackInfo& info);
  Napi::Value SetTrainable(const Napi::CallbackInfo& info);
  Napi::Value PartParameterNames(const Napi::CallbackInfo& info);
  Napi::Value ParameterGroups(const Napi::CallbackInfo& info);
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::Value LoadPretrained(const Napi::CallbackInfo& info);
  Napi::Value ExportPretrained(const Napi::CallbackInfo& info);

  std::shared_ptr<model::MultiTaskModelImpl> model_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace mtl::napi
