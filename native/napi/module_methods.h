// torch.nn.Module's generic methods, written once for every ObjectWrap that holds a module
// (NativeModule for the mt.nn blocks, NativeMultiTaskModel): namedParameters, namedBuffers,
// loadStateDict, train, isTraining, to, setRequiresGrad. A wrap derives from ModuleMethods<Self>
// (CRTP) and provides `torch::nn::Module& module()`; it may provide `void beforeChange()` (refuse
// a change, e.g. while a fit runs) and `void moveTo(device?, dtype?)`.
#pragma once
#include <napi.h>
#include <torch/nn/module.h>

#include <vector>

#include "core/nn/state_dict.h"
#include "core/runtime.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/named_tensors.h"

namespace mtl::napi {

template <typename Wrap>
class ModuleMethods {
 public:
  using Property = Napi::ClassPropertyDescriptor<Wrap>;
  using Method = Napi::Value (Wrap::*)(const Napi::CallbackInfo&);

  static void addTo(std::vector<Property>& properties) {
    properties.push_back(Wrap::InstanceMethod("namedParameters", static_cast<Method>(&ModuleMethods::NamedParameters)));
    properties.push_back(Wrap::InstanceMethod("namedBuffers", static_cast<Method>(&ModuleMethods::NamedBuffers)));
    properties.push_back(Wrap::InstanceMethod("loadStateDict", static_cast<Method>(&ModuleMethods::LoadStateDict)));
    properties.push_back(Wrap::InstanceMethod("train", static_cast<Method>(&ModuleMethods::Train)));
    properties.push_back(Wrap::InstanceMethod("isTraining", static_cast<Method>(&ModuleMethods::IsTraining)));
    properties.push_back(Wrap::InstanceMethod("to", static_cast<Method>(&ModuleMethods::To)));
    properties.push_back(Wrap::InstanceMethod("setRequiresGrad", static_cast<Method>(&ModuleMethods::SetRequiresGrad)));
  }

  // Defaults a wrap may hide.
  void beforeChange() {}
  void moveTo(const c10::optional<c10::Device>& device, const c10::optional<at::ScalarType>& dtype) {
    auto& m = self().module();
    if (device && dtype) {
      m.to(*device, *dtype);
    } else if (device) {
      m.to(*device);
    } else if (dtype) {
      m.to(*dtype);
    }
  }

 protected:
  Napi::Value NamedParameters(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] { return namedTensorsToJs(info.Env(), named(self().module().named_parameters())); });
  }

  Napi::Value NamedBuffers(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] { return namedTensorsToJs(info.Env(), named(self().module().named_buffers())); });
  }

  // loadStateDict(names, tensors, strict) -> { missing, unexpected } (the non-fatal ones)
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      self().beforeChange();
      Args args(info);
      return stateDictMismatchToJs(
          info.Env(), nn::loadStateDict(self().module(), namedTensorsFromArgs(args, 0, 1), args.boolean(2, true), args.stringOr(3, "")));
    });
  }

  Napi::Value Train(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      self().beforeChange();
      self().module().train(Args(info).boolean(0, true));
      return info.Env().Undefined();
    });
  }

  Napi::Value IsTraining(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), self().module().is_training()); }

  // to(device?, dtype?)
  Napi::Value To(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      self().beforeChange();
      Args args(info);
      const auto dtype = args.optionalDtype(1);
      if (dtype && !at::isFloatingType(*dtype)) throw ArgumentError("a module's dtype must be a floating type");
      c10::optional<c10::Device> device;
      if (args.present(0)) device = parseDevice(args.string(0));
      self().moveTo(device, dtype);
      return info.Env().Undefined();
    });
  }

  // setRequiresGrad(value): every parameter (freeze / unfreeze the whole module).
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      self().beforeChange();
      const bool value = Args(info).boolean(0, true);
      for (auto& parameter : self().module().parameters()) parameter.set_requires_grad(value);
      return info.Env().Undefined();
    });
  }

 private:
  Wrap& self() { return static_cast<Wrap&>(*this); }
  static nn::NamedTensors named(const torch::OrderedDict<std::string, at::Tensor>& dict) {
    nn::NamedTensors out;
    for (const auto& item : dict) out.emplace_back(item.key(), item.value());
    return out;
  }
};

}  // namespace mtl::napi
