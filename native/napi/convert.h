// Argument conversion from JavaScript values, written once and shared by every binding.
// Conversion failures throw ArgumentError naming the argument's position.
#pragma once
#include <ATen/ATen.h>
#include <c10/util/Optional.h>
#include <napi.h>
#include <string>
#include <vector>

namespace mtl::napi {

class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}

  Napi::Env env() const { return info_.Env(); }
  size_t size() const { return info_.Length(); }
  bool present(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  Napi::Value value(size_t i) const { return info_[i]; }

  const at::Tensor& tensor(size_t i) const;
  c10::optional<at::Tensor> optionalTensor(size_t i) const;
  bool isTensor(size_t i) const;
  at::Scalar scalar(size_t i) const;
  at::Scalar scalarOr(size_t i, const at::Scalar& fallback) const { return present(i) ? scalar(i) : fallback; }
  c10::optional<at::Scalar> optionalScalar(size_t i) const;
  int64_t integer(size_t i) const;
  int64_t integerOr(size_t i, int64_t fallback) const { return present(i) ? integer(i) : fallback; }
  c10::optional<int64_t> optionalInteger(size_t i) const;
  double number(size_t i) const;
  double numberOr(size_t i, double fallback) const { return present(i) ? number(i) : fallback; }
  bool boolean(size_t i, bool fallback) const;
  std::string string(size_t i) const;
  std::string stringOr(size_t i, const std::string& fallback) const { return present(i) ? string(i) : fallback; }
  // A number or an array of integers.
  std::vector<int64_t> integers(size_t i) const;
  c10::optional<std::vector<int64_t>> optionalIntegers(size_t i) const;
  std::vector<at::Tensor> tensors(size_t i) const;
  c10::optional<c10::ScalarType> optionalDtype(size_t i) const;
  at::TensorOptions options(size_t dtypeIndex, size_t deviceIndex) const;

 private:
  [[noreturn]] void fail(size_t i, const char* expected) const;
  const Napi::CallbackInfo& info_;
};

// JavaScript array of integers from a shape.
Napi::Array shapeToArray(Napi::Env env, at::IntArrayRef shape);

}  // namespace mtl::napi
