// NativeReferenceModel: the handle of train::testing::ReferenceModel, a trainable model.
#include "core/train/testing/reference_model.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/tensor.h"
#include "napi/train.h"
#include "napi/train_config.h"

namespace mtl::napi {

namespace {

class ReferenceModelHandle : public Napi::ObjectWrap<ReferenceModelHandle>, public TrainableSource {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeReferenceModel",
                       {
                           InstanceMethod<&ReferenceModelHandle::TaskNames>("taskNames"),
                           InstanceMethod<&ReferenceModelHandle::NamedParameters>("namedParameters"),
                           InstanceMethod<&ReferenceModelHandle::LoadParameters>("loadParameters"),
                           InstanceMethod<&ReferenceModelHandle::TaskLosses>("taskLosses"),
                           InstanceMethod<&ReferenceModelHandle::Predict>("predict"),
                           InstanceMethod<&ReferenceModelHandle::ParameterGroups>("parameterGroups"),
                       });
  }

  explicit ReferenceModelHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReferenceModelHandle>(info) {
    guard(info.Env(), [&] {
      model_ = std::make_shared<train::testing::ReferenceModel>(referenceModelConfigOf(info[0]));
    });
  }

  ModelLease lease() override { return {model_, busy_}; }

 private:
  Napi::Value TaskNames(const Napi::CallbackInfo& info) {
    const auto names = model_->taskNames();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  }

  // { names, tensors }: the parameters themselves (shared storage), torch.nn names.
  Napi::Value NamedParameters(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto named = model_->module().named_parameters(true);
      Napi::Array names = Napi::Array::New(info.Env(), named.size());
      Napi::Array tensors = Napi::Array::New(info.Env(), named.size());
      uint32_t i = 0;
      for (const auto& item : named) {
        names.Set(i, item.key());
        tensors.Set(i, TensorHandle::Wrap(info.Env(), item.value()));
        ++i;
      }
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("names", names);
      out.Set("tensors", tensors);
      return out;
    });
  }

  // loadParameters(names, tensors): copies values into the parameters of those names.
  Napi::Value LoadParameters(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      if (!info[0].IsArray()) throw ArgumentError("loadParameters: argument 0 must be an array of names");
      Napi::Array names = info[0].As<Napi::Array>();
      const auto tensors = args.tensors(1);
      if (names.Length() != tensors.size()) throw ArgumentError("loadParameters: names and tensors differ in length");
      auto named = model_->module().named_parameters(true);
      at::NoGradGuard noGrad;
      for (uint32_t i = 0; i < names.Length(); ++i) {
        const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
        at::Tensor* target = named.find(name);
        if (target == nullptr) throw ArgumentError("loadParameters: the model has no parameter '" + name + "'");
        if (target->sizes() != tensors[i].sizes()) throw ArgumentError("loadParameters: '" + name + "' has another shape");
        target->copy_(tensors[i]);
      }
      return info.Env().Undefined();
    });
  }

  // taskLosses({ task: batch }) → { task: Tensor }
  Napi::Value TaskLosses(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (!info[0].IsObject()) throw ArgumentError("taskLosses: argument 0 must map task names to batches");
      Napi::Object object = info[0].As<Napi::Object>();
      Napi::Array keys = object.GetPropertyNames();
      std::map<std::string, data::Batch> batches;
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        const std::string task = keys.Get(i).As<Napi::String>().Utf8Value();
        batches[task] = batchOf(object.Get(task), "taskLosses." + task);
      }
      Napi::Object out = Napi::Object::New(info.Env());
      for (const auto& [task, loss] : model_->taskLosses(batches)) out.Set(task, TensorHandle::Wrap(info.Env(), loss));
      return out;
    });
  }

  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      return TensorHandle::Wrap(info.Env(), model_->predict(args.string(0), batchOf(info[1], "predict.batch")));
    });
  }

  // [{ name, parameterNames }]
  Napi::Value ParameterGroups(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto groups = model_->parameterGroups();
      Napi::Array out = Napi::Array::New(info.Env(), groups.size());
      for (size_t g = 0; g < groups.size(); ++g) {
        Napi::Object group = Napi::Object::New(info.Env());
        group.Set("name", groups[g].name);
        Napi::Array names = Napi::Array::New(info.Env(), groups[g].parameterNames.size());
        for (size_t i = 0; i < groups[g].parameterNames.size(); ++i) names.Set(static_cast<uint32_t>(i), groups[g].parameterNames[i]);
        group.Set("parameterNames", names);
        out.Set(static_cast<uint32_t>(g), group);
      }
      return out;
    });
  }

  std::shared_ptr<train::testing::ReferenceModel> model_;
  std::shared_ptr<std::atomic<bool>> busy_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

void InitReferenceModel(Napi::Env env, Napi::Object exports) {
  Napi::Function constructor = ReferenceModelHandle::Define(env);
  registerTrainable<ReferenceModelHandle>(env, constructor);
  exports.Set("NativeReferenceModel", constructor);
}

void InitTraining(Napi::Env env, Napi::Object exports) {
  InitReferenceModel(env, exports);
  InitTrainer(env, exports);
  InitTrainParts(env, exports);
}

}  // namespace mtl::napi
