#include "core/nn/inference.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

#include "core/nn/multihead_attention.h"

namespace mtl::nn {

namespace {
thread_local const Int8Linears* activeInt8 = nullptr;

c10::OperatorHandle op(const char* name) { return c10::Dispatcher::singleton().findSchemaOrThrow(name, ""); }

// The quantized engine packs are made for, chosen once: onednn (this CPU's oneDNN), fbgemm, qnnpack.
at::QEngine chooseEngine() {
  static std::once_flag chosen;
  static at::QEngine engine = at::QEngine::NoQEngine;
  std::call_once(chosen, [] {
    const auto& supported = at::globalContext().supportedQEngines();
    for (at::QEngine preferred : {at::QEngine::ONEDNN, at::QEngine::FBGEMM, at::QEngine::QNNPACK}) {
      if (std::find(supported.begin(), supported.end(), preferred) != supported.end()) {
        engine = preferred;
        return;
      }
    }
  });
  return engine;
}

c10::IValue prepack(const at::Tensor& weight, const at::Tensor& bias) {
  const at::QEngine engine = chooseEngine();
  TORCH_CHECK_NOT_IMPLEMENTED(engine != at::QEngine::NoQEngine, "precision 'int8' needs a quantized engine, and this libtorch has none");
  at::globalContext().setQEngine(engine);
  // Per-tensor symmetric int8 (quantize_dynamic's default weight observer): scale = max|w| / 127.5.
  const at::Tensor w = weight.detach().to(at::kFloat).contiguous();
  const double amax = std::max(w.abs().max().item<double>(), 1e-12);
  const at::Tensor q = at::quantize_per_tensor(w, amax / 127.5, 0, at::kQInt8);
  torch::jit::Stack stack{q, bias.defined() ? c10::IValue(bias.detach().to(at::kFloat).contiguous()) : c10::IValue()};
  op("quantized::linear_prepack").callBoxed(&stack);
  return stack.at(0);
}
}  // namespace

Precision parsePrecision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "int8") return Precision::kInt8;
  throw std::invalid_argument("unknown precision '" + name + "': expected fp32, bf16 or int8");
}

const char* precisionName(Precision precision) {
  switch (precision) {
    case Precision::kBf16:
      return "bf16";
    case Precision::kInt8:
      return "int8";
    default:
      return "fp32";
  }
}

std::string int8Engine() {
  switch (chooseEngine()) {
    case at::QEngine::ONEDNN:
      return "onednn";
    case at::QEngine::FBGEMM:
      return "fbgemm";
    case at::QEngine::QNNPACK:
      return "qnnpack";
    default:
      return "";
  }
}

void Int8Linears::refresh(torch::nn::Module& module) {
  std::vector<std::pair<at::Tensor, at::Tensor>> linears;
  for (const auto& child : module.modules(/*include_self=*/true)) {
    if (auto* l = child->as<torch::nn::LinearImpl>()) {
      linears.emplace_back(l->weight, l->bias);
    } else if (auto* attention = child->as<MultiheadAttentionImpl>()) {
      if (attention->inProjWeight.defined()) linears.emplace_back(attention->inProjWeight, attention->inProjBias);
    }
  }
  std::unordered_map<const c10::TensorImpl*, Pack> next;
  for (auto& [weight, bias] : linears) {
    if (!weight.defined() || weight.dim() != 2 || !weight.device().is_cpu()) continue;
    const c10::TensorImpl* key = weight.unsafeGetTensorImpl();
    const int64_t version = static_cast<int64_t>(weight._version()) + (bias.defined() ? static_cast<int64_t>(bias._version()) << 32 : 0);
    auto found = packs_.find(key);
    if (found != packs_.end() && found->second.version == version) {
      next.emplace(key, std::move(found->second));
      continue;
    }
    next.emplace(key, Pack{weight, version, bias, prepack(weight, bias)});
  }
  packs_ = std::move(next);
}

const c10::IValue* Int8Linears::find(const at::Tensor& weight) const {
  auto found = packs_.find(weight.unsafeGetTensorImpl());
  return found == packs_.end() ? nullptr : &found->second.packed;
}

Int8Scope::Int8Scope(const Int8Linears* linears) : previous_(activeInt8) { activeInt8 = linears; }
Int8Scope::~Int8Scope() { activeInt8 = previous_; }

bool int8Active() { return activeInt8 != nullptr; }

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (activeInt8 != nullptr && x.device().is_cpu() && x.scalar_type() == at::kFloat) {
    if (const c10::IValue* packed = activeInt8->find(weight)) {
      torch::jit::Stack stack{x.contiguous(), *packed, false};
      op("quantized::linear_dynamic").callBoxed(&stack);
      return stack.at(0).toTensor();
    }
  }
  return at::linear(x, weight, bias);
}

at::Tensor linear(torch::nn::Linear& layer, const at::Tensor& x) { return linear(x, layer->weight, layer->bias); }

}  // namespace mtl::nn
