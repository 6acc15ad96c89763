#include "napi/json_value.h"

#include <cmath>

#include "napi/errors.h"

namespace mtl::napi {

namespace {

constexpr int kMaxDepth = 32;

Options convert(const Napi::Value& value, const std::string& what, int depth) {
  if (depth > kMaxDepth) throw ArgumentError(what + " nests deeper than " + std::to_string(kMaxDepth) + " levels");
  if (value.IsUndefined() || value.IsNull()) return nullptr;
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value();
  if (value.IsString()) return value.As<Napi::String>().Utf8Value();
  if (value.IsNumber()) {
    const double number = value.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(number)) throw ArgumentError(what + " must be a finite number");
    // Integral values within 2^53 stay integers, so the core reads int64 fields exactly.
    if (std::trunc(number) == number && std::fabs(number) <= 9007199254740992.0) return static_cast<int64_t>(number);
    return number;
  }
  if (value.IsArray()) {
    const auto array = value.As<Napi::Array>();
    Options out = Options::array();
    for (uint32_t i = 0; i < array.Length(); ++i) out.push_back(convert(array.Get(i), what + "[" + std::to_string(i) + "]", depth + 1));
    return out;
  }
  if (value.IsObject() && !value.IsFunction() && !value.IsTypedArray() && !value.IsArrayBuffer()) {
    const auto object = value.As<Napi::Object>();
    const auto keys = object.GetPropertyNames();
    Options out = Options::object();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
      Options item = convert(object.Get(key), what + "." + key, depth + 1);
      if (!item.is_null()) out[key] = std::move(item);  // absent and undefined read the same
    }
    return out;
  }
  throw ArgumentError(what + " must be plain data (objects, arrays, strings, numbers, booleans)");
}

}  // namespace

Options jsonOf(const Napi::Value& value, const std::string& what) { return convert(value, what, 0); }

Napi::Value valueOf(Napi::Env env, const Options& json) {
  switch (json.type()) {
    case Options::value_t::null:
      return env.Null();
    case Options::value_t::boolean:
      return Napi::Boolean::New(env, json.get<bool>());
    case Options::value_t::string:
      return Napi::String::New(env, json.get<std::string>());
    case Options::value_t::number_integer:
    case Options::value_t::number_unsigned:
    case Options::value_t::number_float:
      return Napi::Number::New(env, json.get<double>());
    case Options::value_t::array: {
      auto out = Napi::Array::New(env, json.size());
      for (uint32_t i = 0; i < json.size(); ++i) out.Set(i, valueOf(env, json[i]));
      return out;
    }
    case Options::value_t::object: {
      auto out = Napi::Object::New(env);
      for (const auto& [key, item] : json.items()) out.Set(key, valueOf(env, item));
      return out;
    }
    default:
      return env.Undefined();
  }
}

}  // namespace mtl::napi
