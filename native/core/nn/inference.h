// Inference precisions: fp32 (the weights as trained), bf16 (CPU or CUDA autocast, through oneDNN on
// CPU) and int8 (dynamic quantization of the linear layers: int8 weights, per-tensor symmetric as
// torch.ao.quantization.quantize_dynamic's default, activations quantized per call; libtorch's
// quantized::linear_dynamic on the onednn engine, else the first engine this build supports).
//
// The int8 packs are keyed by the weight tensor: nn::linear() uses a weight's pack while an
// Int8Scope holding it is active on the calling thread, and plain at::linear otherwise (training,
// and every weight that was not packed). Packs follow in-place changes of their weights (the
// version counter is checked when a scope opens).
#pragma once
#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace mtl::nn {

enum class Precision { kFp32, kBf16, kInt8 };

// "fp32", "bf16" or "int8"; std::invalid_argument otherwise.
Precision parsePrecision(const std::string& name);
const char* precisionName(Precision precision);

// int8 packs of a module's linear weights: every torch::nn::Linear below it and every
// MultiheadAttention's packed in_proj_weight.
class Int8Linears {
 public:
  // Packs (or re-packs, after an in-place change) the weights of `module`; cheap when nothing changed.
  void refresh(torch::nn::Module& module);
  const c10::IValue* find(const at::Tensor& weight) const;
  size_t size() const { return packs_.size(); }

 private:
  struct Pack {
    at::Tensor weight;  // keeps the key alive
    int64_t version = -1;
    at::Tensor bias;
    c10::IValue packed;
  };
  std::unordered_map<const c10::TensorImpl*, Pack> packs_;
};

// While alive, nn::linear() on this thread uses `linears`' packs (nullptr: none).
class Int8Scope {
 public:
  explicit Int8Scope(const Int8Linears* linears);
  ~Int8Scope();
  Int8Scope(const Int8Scope&) = delete;
  Int8Scope& operator=(const Int8Scope&) = delete;

 private:
  const Int8Linears* previous_;
};

// Whether an Int8Scope with packs is active on this thread.
bool int8Active();

// at::linear(x, weight, bias), or the weight's int8 pack inside an Int8Scope.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
at::Tensor linear(torch::nn::Linear& layer, const at::Tensor& x);

// Whether this libtorch has a quantized engine that runs linear_dynamic ("onednn", "fbgemm" or
// "qnnpack"), and its name ("" when none).
std::string int8Engine();

}  // namespace mtl::nn
