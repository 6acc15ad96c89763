#include "napi/serialization.h"

#include "core/safetensors.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

// saveSafetensors(path, names[], tensors[], metadata?): names[i] names tensors[i].
Napi::Value saveSafetensors(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const std::string path = args.string(0);
    if (!args.present(1) || !info[1].IsArray()) throw ArgumentError("argument 1 must be an array of names");
    const auto names = info[1].As<Napi::Array>();
    const std::vector<at::Tensor> tensors = args.tensors(2);
    if (names.Length() != tensors.size()) throw ArgumentError("names and tensors differ in length");
    safetensors::NamedTensors named;
    named.reserve(tensors.size());
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const Napi::Value name = names.Get(i);
      if (!name.IsString()) throw ArgumentError("names[" + std::to_string(i) + "] must be a string");
      named.emplace_back(name.As<Napi::String>().Utf8Value(), tensors[i]);
    }
    safetensors::Metadata metadata;
    if (args.present(3)) {
      if (!info[3].IsObject()) throw ArgumentError("argument 3 must be an object of strings");
      const auto object = info[3].As<Napi::Object>();
      const Napi::Array keys = object.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        const Napi::Value key = keys.Get(i);
        const Napi::Value value = object.Get(key);
        if (!value.IsString()) throw ArgumentError("metadata values must be strings");
        metadata[key.ToString().Utf8Value()] = value.As<Napi::String>().Utf8Value();
      }
    }
    safetensors::save(path, named, metadata);
    return info.Env().Undefined();
  });
}

// loadSafetensors(path) -> { names, tensors, metadata }, in the file's order.
Napi::Value loadSafetensors(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    safetensors::Loaded loaded = safetensors::load(args.string(0));
    const Napi::Env env = info.Env();
    auto names = Napi::Array::New(env, loaded.tensors.size());
    auto tensors = Napi::Array::New(env, loaded.tensors.size());
    for (uint32_t i = 0; i < loaded.tensors.size(); ++i) {
      names.Set(i, loaded.tensors[i].first);
      tensors.Set(i, TensorHandle::Wrap(env, std::move(loaded.tensors[i].second)));
    }
    auto metadata = Napi::Object::New(env);
    for (const auto& [key, value] : loaded.metadata) {
      // Defined, not assigned: a key named "__proto__" must stay an ordinary entry.
      const auto attributes = static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable);
      metadata.DefineProperty(Napi::PropertyDescriptor::Value(key, Napi::String::New(env, value), attributes));
    }
    auto result = Napi::Object::New(env);
    result.Set("names", names);
    result.Set("tensors", tensors);
    result.Set("metadata", metadata);
    return result;
  });
}

}  // namespace

void InitSerialization(Napi::Env env, Napi::Object exports) {
  exports.Set("saveSafetensors", Napi::Function::New(env, saveSafetensors, "saveSafetensors"));
  exports.Set("loadSafetensors", Napi::Function::New(env, loadSafetensors, "loadSafetensors"));
}

}  // namespace mtl::napi
