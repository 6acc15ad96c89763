#include "napi/options.h"

#include <cmath>

#include "napi/errors.h"

namespace mtl::napi {

OptionReader::OptionReader(const Napi::Value& value, std::string what) : what_(std::move(what)) {
  if (!value.IsObject()) throw ArgumentError(what_ + " options must be an object");
  object_ = value.As<Napi::Object>();
}

void OptionReader::fail(const char* field, const char* expected) const {
  throw ArgumentError(what_ + ": '" + field + "' must be " + expected);
}

Napi::Value OptionReader::get(const char* field) const { return object_.Get(field); }

bool OptionReader::has(const char* field) const {
  const Napi::Value v = get(field);
  return !v.IsUndefined() && !v.IsNull();
}

int64_t OptionReader::integer(const char* field) const {
  const Napi::Value v = get(field);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) >= 9007199254740992.0) fail(field, "an integer");
  return static_cast<int64_t>(d);
}

std::vector<int64_t> OptionReader::integers(const char* field) const {
  const Napi::Value v = get(field);
  if (!v.IsArray()) return {integer(field)};
  const auto array = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t k = 0; k < array.Length(); ++k) {
    const Napi::Value item = array.Get(k);
    const double d = item.IsNumber() ? item.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) >= 9007199254740992.0) fail(field, "an array of integers");
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

double OptionReader::number(const char* field) const {
  const Napi::Value v = get(field);
  if (!v.IsNumber()) fail(field, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool OptionReader::boolean(const char* field, bool fallback) const {
  if (!has(field)) return fallback;
  const Napi::Value v = get(field);
  if (!v.IsBoolean()) fail(field, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string OptionReader::stringOr(const char* field, const std::string& fallback) const {
  if (!has(field)) return fallback;
  const Napi::Value v = get(field);
  if (!v.IsString()) fail(field, "a string");
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace mtl::napi
