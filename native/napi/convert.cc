#include "napi/convert.h"

#include <cmath>

#include "core/runtime.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace mtl::napi {

void Args::fail(size_t i, const char* expected) const { throw ArgumentError("argument " + std::to_string(i) + " must be " + expected); }

const at::Tensor& Args::tensor(size_t i) const {
  const at::Tensor* tensor = i < info_.Length() ? TensorHandle::Find(info_[i]) : nullptr;
  if (tensor == nullptr) fail(i, "a tensor");
  return *tensor;
}

bool Args::isTensor(size_t i) const { return i < info_.Length() && TensorHandle::IsHandle(info_[i]); }

c10::optional<at::Tensor> Args::optionalTensor(size_t i) const {
  if (!present(i)) return c10::nullopt;
  return tensor(i);
}

at::Scalar Args::scalar(size_t i) const {
  if (i < info_.Length()) {
    const Napi::Value v = info_[i];
    if (v.IsNumber()) {
      const double d = v.As<Napi::Number>().DoubleValue();
      // Integral numbers stay integers so that int tensors keep their dtype, as in Python.
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) {
        return at::Scalar(static_cast<int64_t>(d));
      }
      return at::Scalar(d);
    }
    if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
    if (v.IsBigInt()) {
      bool lossless = true;
      const int64_t value = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) fail(i, "a bigint within int64 range");
      return at::Scalar(value);
    }
  }
  fail(i, "a number, boolean or bigint");
}

c10::optional<at::Scalar> Args::optionalScalar(size_t i) const {
  if (!present(i)) return c10::nullopt;
  return scalar(i);
}

int64_t Args::integer(size_t i) const {
  if (i < info_.Length()) {
    const Napi::Value v = info_[i];
    if (v.IsNumber()) {
      const double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9007199254740992.0) return static_cast<int64_t>(d);
    } else if (v.IsBigInt()) {
      bool lossless = true;
      const int64_t value = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (lossless) return value;
    }
  }
  fail(i, "an integer");
}

c10::optional<int64_t> Args::optionalInteger(size_t i) const {
  if (!present(i)) return c10::nullopt;
  return integer(i);
}

double Args::number(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsNumber()) fail(i, "a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

bool Args::boolean(size_t i, bool fallback) const {
  if (!present(i)) return fallback;
  if (!info_[i].IsBoolean()) fail(i, "a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

std::string Args::string(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsString()) fail(i, "a string");
  return info_[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> Args::integers(size_t i) const {
  if (i < info_.Length() && info_[i].IsNumber()) return {integer(i)};
  if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "an integer or an array of integers");
  const auto array = info_[i].As<Napi::Array>();
  std::vector<int64_t> out;
  out.reserve(array.Length());
  for (uint32_t k = 0; k < array.Length(); ++k) {
    const Napi::Value v = array.Get(k);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) >= 9007199254740992.0) {
      fail(i, "an array of integers");
    }
    out.push_back(static_cast<int64_t>(d));
  }
  return out;
}

c10::optional<std::vector<int64_t>> Args::optionalIntegers(size_t i) const {
  if (!present(i)) return c10::nullopt;
  return integers(i);
}

std::vector<at::Tensor> Args::tensors(size_t i) const {
  if (i >= info_.Length() || !info_[i].IsArray()) fail(i, "an array of tensors");
  const auto array = info_[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(array.Length());
  for (uint32_t k = 0; k < array.Length(); ++k) {
    const Napi::Value v = array.Get(k);
    const at::Tensor* tensor = TensorHandle::Find(v);
    if (tensor == nullptr) fail(i, "an array of tensors");
    out.push_back(*tensor);
  }
  return out;
}

c10::optional<c10::ScalarType> Args::optionalDtype(size_t i) const {
  if (!present(i)) return c10::nullopt;
  return parseDtype(string(i));
}

at::TensorOptions Args::options(size_t dtypeIndex, size_t deviceIndex) const {
  at::TensorOptions options;
  if (auto dtype = optionalDtype(dtypeIndex)) options = options.dtype(*dtype);
  if (present(deviceIndex)) options = options.device(parseDevice(string(deviceIndex)));
  return options;
}

Napi::Array shapeToArray(Napi::Env env, at::IntArrayRef shape) {
  auto array = Napi::Array::New(env, shape.size());
  for (size_t k = 0; k < shape.size(); ++k) array.Set(static_cast<uint32_t>(k), static_cast<double>(shape[k]));
  return array;
}

}  // namespace mtl::napi
