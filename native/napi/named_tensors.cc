#include "napi/named_tensors.h"

#include "napi/errors.h"
#include "napi/tensor.h"

namespace mtl::napi {

Napi::Value namedTensorsToJs(Napi::Env env, const nn::NamedTensors& items) {
  auto names = Napi::Array::New(env, items.size());
  auto tensors = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); ++i) {
    names.Set(i, items[i].first);
    tensors.Set(i, TensorHandle::Wrap(env, items[i].second));
  }
  auto out = Napi::Object::New(env);
  out.Set("names", names);
  out.Set("tensors", tensors);
  return out;
}

nn::NamedTensors namedTensorsFromArgs(const Args& args, size_t namesIndex, size_t tensorsIndex) {
  if (!args.present(namesIndex) || !args.value(namesIndex).IsArray()) {
    throw ArgumentError("argument " + std::to_string(namesIndex) + " must be an array of names");
  }
  const auto names = args.value(namesIndex).As<Napi::Array>();
  const std::vector<at::Tensor> tensors = args.tensors(tensorsIndex);
  if (names.Length() != tensors.size()) throw ArgumentError("names and tensors must have the same length");
  nn::NamedTensors items;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    if (!names.Get(i).IsString()) throw ArgumentError("argument " + std::to_string(namesIndex) + " must be an array of names");
    items.emplace_back(names.Get(i).As<Napi::String>().Utf8Value(), tensors[i]);
  }
  return items;
}

Napi::Value stateDictMismatchToJs(Napi::Env env, const nn::StateDictMismatch& mismatch) {
  auto toArray = [&](const std::vector<std::string>& list) {
    auto array = Napi::Array::New(env, list.size());
    for (uint32_t i = 0; i < list.size(); ++i) array.Set(i, list[i]);
    return array;
  };
  auto out = Napi::Object::New(env);
  out.Set("missing", toArray(mismatch.missing));
  out.Set("unexpected", toArray(mismatch.unexpected));
  return out;
}

}  // namespace mtl::napi
