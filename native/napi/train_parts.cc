// NativeWeighting and NativeSampler: one weighting method or task sampler on its own, so that
// tests can feed them chosen losses and gradients and compare with the PyTorch references.
#include "core/train/sampler/sampler.h"
#include "core/train/weighting/weighting.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/tensor.h"
#include "napi/train.h"
#include "napi/train_config.h"

namespace mtl::napi {

namespace {

std::vector<std::string> stringsOf(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw ArgumentError(std::string(what) + " must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

const char* gradientNeedName(train::GradientNeed need) {
  switch (need) {
    case train::GradientNeed::Shared: return "shared";
    case train::GradientNeed::LastShared: return "lastShared";
    default: return "none";
  }
}

class WeightingHandle : public Napi::ObjectWrap<WeightingHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeWeighting",
                       {
                           InstanceMethod<&WeightingHandle::Combine>("combine"),
                           InstanceMethod<&WeightingHandle::AfterBackward>("afterBackward"),
                           InstanceMethod<&WeightingHandle::Parameters>("parameters"),
                           InstanceMethod<&WeightingHandle::Info>("info"),
                       });
  }

  // new NativeWeighting(config, taskNames)
  explicit WeightingHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WeightingHandle>(info) {
    guard(info.Env(), [&] {
      taskCount_ = stringsOf(info[1], "taskNames").size();
      weighting_ = train::makeWeighting(weightingConfigOf(info[0]), stringsOf(info[1], "taskNames"));
    });
  }

 private:
  // combine(losses: Tensor[] (one per task, in task order), taskGradients?: Tensor [K, P],
  //         step?, epoch?) → { objective, sharedGradient?, lambdas }
  Napi::Value Combine(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      const auto losses = args.tensors(0);
      if (losses.size() != taskCount_) throw ArgumentError("combine: give one loss per task");
      std::vector<int64_t> tasks;
      for (size_t i = 0; i < losses.size(); ++i) tasks.push_back(static_cast<int64_t>(i));
      at::Tensor gradients = args.present(1) ? args.tensor(1) : at::Tensor();
      if (weighting_->gradientNeed() != train::GradientNeed::None && !gradients.defined()) {
        throw ArgumentError("combine: weighting." + weighting_->name() + " needs the task gradients (argument 1)");
      }
      const train::StepContext context{args.integerOr(2, 0), args.integerOr(3, 0)};
      const train::Combination c = weighting_->combine(tasks, losses, gradients, context);
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("objective", TensorHandle::Wrap(info.Env(), c.objective));
      if (c.sharedGradient.defined()) out.Set("sharedGradient", TensorHandle::Wrap(info.Env(), c.sharedGradient));
      Napi::Array lambdas = Napi::Array::New(info.Env(), c.lambdas.size());
      for (size_t i = 0; i < c.lambdas.size(); ++i) lambdas.Set(static_cast<uint32_t>(i), c.lambdas[i]);
      out.Set("lambdas", lambdas);
      return out;
    });
  }

  Napi::Value AfterBackward(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      weighting_->afterBackward();
      return info.Env().Undefined();
    });
  }

  Napi::Value Parameters(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      const auto parameters = weighting_->parameters();
      Napi::Array out = Napi::Array::New(info.Env(), parameters.size());
      for (size_t i = 0; i < parameters.size(); ++i) out.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(info.Env(), parameters[i].detach().clone()));
      return out;
    });
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("name", weighting_->name());
    out.Set("gradientNeed", gradientNeedName(weighting_->gradientNeed()));
    out.Set("needsAllTasksEachStep", weighting_->needsAllTasksEachStep());
    return out;
  }

  std::unique_ptr<train::LossWeighting> weighting_;
  size_t taskCount_ = 0;
};

class SamplerHandle : public Napi::ObjectWrap<SamplerHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeSampler",
                       {
                           InstanceMethod<&SamplerHandle::Draw>("draw"),
                           InstanceMethod<&SamplerHandle::Probabilities>("probabilities"),
                       });
  }

  // new NativeSampler(config, sizes, seed)
  explicit SamplerHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SamplerHandle>(info) {
    guard(info.Env(), [&] {
      Args args(info);
      sampler_ = train::makeSampler(samplerConfigOf(info[0]), args.integers(1), static_cast<uint64_t>(args.integerOr(2, 0)));
    });
  }

 private:
  // draw(count) → Int32Array of task indices
  Napi::Value Draw(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      const int64_t count = args.integer(0);
      if (count < 0) throw ArgumentError("draw: count must be >= 0");
      Napi::Int32Array out = Napi::Int32Array::New(info.Env(), static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = static_cast<int32_t>(sampler_->next());
      return out;
    });
  }

  Napi::Value Probabilities(const Napi::CallbackInfo& info) {
    const auto p = sampler_->probabilities();
    Napi::Array out = Napi::Array::New(info.Env(), p.size());
    for (size_t i = 0; i < p.size(); ++i) out.Set(static_cast<uint32_t>(i), p[i]);
    return out;
  }

  std::unique_ptr<train::TaskSampler> sampler_;
};

}  // namespace

void InitTrainParts(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeWeighting", WeightingHandle::Define(env));
  exports.Set("NativeSampler", SamplerHandle::Define(env));
}

}  // namespace mtl::napi
