#include "napi/module.h"

#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <string>

#include "core/nn/attention.h"
#include "core/nn/kv_cache.h"
#include "core/nn/multihead_attention.h"
#include "core/nn/positional_encoding.h"
#include "core/nn/state_dict.h"
#include "core/nn/transformer_decoder.h"
#include "core/nn/transformer_encoder.h"
#include "core/runtime.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/json_value.h"
#include "napi/module_methods.h"
#include "napi/named_tensors.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

using ModulePtr = std::shared_ptr<torch::nn::Module>;

// ---- decoder caches: an External tagged so that no other External passes for one ----

constexpr napi_type_tag kDecoderCacheTag = {0x6d746c2d746f7263ULL, 0x6465636f64657243ULL};

Napi::Value wrapCache(Napi::Env env, nn::DecoderCache cache) {
  auto external = Napi::External<nn::DecoderCache>::New(env, new nn::DecoderCache(std::move(cache)),
                                                        [](Napi::Env, nn::DecoderCache* data) { delete data; });
  external.TypeTag(&kDecoderCacheTag);
  return external;
}

nn::DecoderCache& cacheOf(const Napi::Value& value) {
  if (!value.IsExternal() || !value.As<Napi::External<nn::DecoderCache>>().CheckTypeTag(&kDecoderCacheTag)) {
    throw ArgumentError("cache must be a decoder cache made by the same decoder's newCache()");
  }
  return *value.As<Napi::External<nn::DecoderCache>>().Data();
}

// ---- block kinds: how each is made from options, and how its forward takes JavaScript arguments ----
// The options arrive validated and complete (lib/nn fills torch.nn's defaults), so every field is
// read as required.

template <typename T>
T field(const Options& o, const char* name) {
  return o.at(name).get<T>();
}

Napi::Value wrap(const Args& a, at::Tensor t) { return TensorHandle::Wrap(a.env(), std::move(t)); }

nn::TransformerLayerOptions layerOptions(const Options& o) {
  return nn::TransformerLayerOptions(field<int64_t>(o, "dModel"), field<int64_t>(o, "nhead"))
      .dimFeedforward(field<int64_t>(o, "dimFeedforward"))
      .dropout(field<double>(o, "dropout"))
      .activation(nn::parseActivation(field<std::string>(o, "activation")))
      .layerNormEps(field<double>(o, "layerNormEps"))
      .normFirst(field<bool>(o, "normFirst"));
}

nn::TransformerStackOptions stackOptions(const Options& o) {
  return nn::TransformerStackOptions(layerOptions(o), field<int64_t>(o, "numLayers")).norm(field<bool>(o, "norm"));
}

nn::PositionalEncodingOptions positionalOptions(const Options& o) {
  return nn::PositionalEncodingOptions(field<int64_t>(o, "dModel"), field<int64_t>(o, "maxLen")).dropout(field<double>(o, "dropout"));
}

nn::DecoderMasks decoderMasks(const Args& a, size_t first) {
  return {a.optionalTensor(first), a.optionalTensor(first + 1), a.optionalTensor(first + 2), a.optionalTensor(first + 3)};
}

// torch::nn::Module is a virtual base of every Impl (through Cloneable), so only dynamic_cast
// reaches the Impl; the kind table pairs each factory with its own forward, so it never fails.
template <typename Impl>
Impl& as(torch::nn::Module& module) {
  return dynamic_cast<Impl&>(module);
}

// Every forward that maps one tensor to one tensor.
template <typename Impl>
Napi::Value unaryForward(torch::nn::Module& m, const Args& a) {
  return wrap(a, as<Impl>(m).forward(a.tensor(0)));
}

template <typename Impl>
Napi::Value positionalForward(torch::nn::Module& m, const Args& a) {
  return wrap(a, as<Impl>(m).forward(a.tensor(0), a.integerOr(1, 0)));
}

template <typename Impl>
Napi::Value encoderForward(torch::nn::Module& m, const Args& a) {
  return wrap(a, as<Impl>(m).forward(a.tensor(0), a.optionalTensor(1), a.optionalTensor(2)));
}

struct BlockKind {
  const char* name;
  ModulePtr (*make)(const Options&);
  Napi::Value (*forward)(torch::nn::Module&, const Args&);
};

const BlockKind kBlockKinds[] = {
    {"linear",
     [](const Options& o) -> ModulePtr {
       return torch::nn::Linear(
                  torch::nn::LinearOptions(field<int64_t>(o, "inFeatures"), field<int64_t>(o, "outFeatures")).bias(field<bool>(o, "bias")))
           .ptr();
     },
     unaryForward<torch::nn::LinearImpl>},
    {"embedding",
     [](const Options& o) -> ModulePtr {
       auto options = torch::nn::EmbeddingOptions(field<int64_t>(o, "numEmbeddings"), field<int64_t>(o, "embeddingDim"));
       if (o.contains("paddingIdx")) options.padding_idx(field<int64_t>(o, "paddingIdx"));
       return torch::nn::Embedding(options).ptr();
     },
     unaryForward<torch::nn::EmbeddingImpl>},
    {"layerNorm",
     [](const Options& o) -> ModulePtr {
       return torch::nn::LayerNorm(torch::nn::LayerNormOptions(field<std::vector<int64_t>>(o, "normalizedShape"))
                                       .eps(field<double>(o, "eps"))
                                       .elementwise_affine(field<bool>(o, "elementwiseAffine")))
           .ptr();
     },
     unaryForward<torch::nn::LayerNormImpl>},
    {"dropout", [](const Options& o) -> ModulePtr { return torch::nn::Dropout(torch::nn::DropoutOptions(field<double>(o, "p"))).ptr(); },
     unaryForward<torch::nn::DropoutImpl>},
    {"sinusoidalPositionalEncoding",
     [](const Options& o) -> ModulePtr { return nn::SinusoidalPositionalEncoding(positionalOptions(o)).ptr(); },
     positionalForward<nn::SinusoidalPositionalEncodingImpl>},
    {"learnedPositionalEncoding", [](const Options& o) -> ModulePtr { return nn::LearnedPositionalEncoding(positionalOptions(o)).ptr(); },
     positionalForward<nn::LearnedPositionalEncodingImpl>},
    {"multiheadAttention",
     [](const Options& o) -> ModulePtr {
       return nn::MultiheadAttention(nn::MultiheadAttentionOptions(field<int64_t>(o, "embedDim"), field<int64_t>(o, "numHeads"))
                                         .dropout(field<double>(o, "dropout"))
                                         .bias(field<bool>(o, "bias"))
                                         .kdim(o.contains("kdim") ? field<int64_t>(o, "kdim") : 0)
                                         .vdim(o.contains("vdim") ? field<int64_t>(o, "vdim") : 0))
           .ptr();
     },
     // (query, key, value, keyPaddingMask?, attnMask?, needWeights?, averageWeights?) -> [output, weights | null]
     [](torch::nn::Module& m, const Args& a) -> Napi::Value {
       const bool needWeights = a.boolean(5, false);
       auto result = as<nn::MultiheadAttentionImpl>(m).forward(a.tensor(0), a.tensor(1), a.tensor(2),
                                                               {a.optionalTensor(4), a.optionalTensor(3)}, needWeights, a.boolean(6, true));
       auto out = Napi::Array::New(a.env(), 2);
       out.Set(0u, wrap(a, result.output));
       out.Set(1u, needWeights ? wrap(a, result.weights) : a.env().Null());
       return out;
     }},
    {"transformerEncoderLayer", [](const Options& o) -> ModulePtr { return nn::TransformerEncoderLayer(layerOptions(o)).ptr(); },
     encoderForward<nn::TransformerEncoderLayerImpl>},
    {"transformerEncoder", [](const Options& o) -> ModulePtr { return nn::TransformerEncoder(stackOptions(o)).ptr(); },
     encoderForward<nn::TransformerEncoderImpl>},
    {"transformerDecoderLayer", [](const Options& o) -> ModulePtr { return nn::TransformerDecoderLayer(layerOptions(o)).ptr(); },
     // (tgt, memory, tgtMask?, memoryMask?, tgtKeyPaddingMask?, memoryKeyPaddingMask?)
     [](torch::nn::Module& m, const Args& a) -> Napi::Value {
       return wrap(a, as<nn::TransformerDecoderLayerImpl>(m).forward(a.tensor(0), a.tensor(1), decoderMasks(a, 2)));
     }},
    {"transformerDecoder", [](const Options& o) -> ModulePtr { return nn::TransformerDecoder(stackOptions(o)).ptr(); },
     // (tgt, memory, tgtMask?, memoryMask?, tgtKeyPaddingMask?, memoryKeyPaddingMask?, cache?)
     [](torch::nn::Module& m, const Args& a) -> Napi::Value {
       nn::DecoderCache* cache = a.present(6) ? &cacheOf(a.value(6)) : nullptr;
       return wrap(a, as<nn::TransformerDecoderImpl>(m).forward(a.tensor(0), a.tensor(1), decoderMasks(a, 2), cache));
     }},
};

const BlockKind& findKind(const std::string& name) {
  for (const auto& kind : kBlockKinds) {
    if (name == kind.name) return kind;
  }
  std::string known;
  for (const auto& kind : kBlockKinds) known += (known.empty() ? "" : ", ") + std::string(kind.name);
  throw ArgumentError("unknown module kind '" + name + "' (known: " + known + ")");
}

// ---- the ObjectWrap ----

class NativeModule : public Napi::ObjectWrap<NativeModule>, public ModuleMethods<NativeModule> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    std::vector<Property> properties{InstanceMethod<&NativeModule::Forward>("forward"), InstanceMethod<&NativeModule::NewCache>("newCache"),
                                     InstanceMethod<&NativeModule::Kind>("kind")};
    addTo(properties);
    exports.Set("NativeModule", DefineClass(env, "NativeModule", properties));
  }

  // new NativeModule(kind, options)
  explicit NativeModule(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeModule>(info) {
    guard(info.Env(), [&] {
      Args args(info);
      kind_ = &findKind(args.string(0));
      module_ = kind_->make(jsonOf(args.value(1), std::string(kind_->name) + " options"));
    });
  }

  torch::nn::Module& module() { return *module_; }

 private:
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&] { return kind_->forward(*module_, Args(info)); });
  }

  Napi::Value NewCache(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto* decoder = dynamic_cast<nn::TransformerDecoderImpl*>(module_.get());
      if (decoder == nullptr) throw ArgumentError(std::string("a ") + kind_->name + " has no key/value cache");
      return wrapCache(info.Env(), decoder->makeCache());
    });
  }

  Napi::Value Kind(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), kind_->name); }

  const BlockKind* kind_ = nullptr;
  ModulePtr module_;
};

// ---- cache functions ----

Napi::Value cacheLength(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(cacheOf(info[0]).length())); });
}

Napi::Value cacheReorder(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    cacheOf(info[0]).reorder(Args(info).tensor(1));
    return info.Env().Undefined();
  });
}

Napi::Value cacheClear(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    cacheOf(info[0]).clear();
    return info.Env().Undefined();
  });
}

// ---- mt.nn.functional's attention ----

// scaledDotProductAttention(q, k, v, attnMask?, dropoutP, isCausal, needWeights) -> [output, weights | null]
// with torch.nn.functional.scaled_dot_product_attention's mask convention: bool True = may attend.
Napi::Value scaledDotProductAttention(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args a(info);
    const bool needWeights = a.boolean(6, false);
    auto result = nn::functionalScaledDotProductAttention(a.tensor(0), a.tensor(1), a.tensor(2), a.optionalTensor(3), a.numberOr(4, 0.0),
                                                          a.boolean(5, false), needWeights);
    auto out = Napi::Array::New(info.Env(), 2);
    out.Set(0u, TensorHandle::Wrap(info.Env(), result.output));
    out.Set(1u, needWeights ? TensorHandle::Wrap(info.Env(), result.weights) : info.Env().Null());
    return out;
  });
}

// squareSubsequentMask(size, dtype?, device?)
Napi::Value squareSubsequentMask(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args a(info);
    at::TensorOptions options = a.options(1, 2);
    if (!options.has_dtype()) options = options.dtype(at::kFloat);
    return TensorHandle::Wrap(info.Env(), nn::squareSubsequentMask(a.integer(0), options));
  });
}

}  // namespace

void InitModules(Napi::Env env, Napi::Object exports) {
  NativeModule::Init(env, exports);
  exports.Set("decoderCacheLength", Napi::Function::New(env, cacheLength, "decoderCacheLength"));
  exports.Set("decoderCacheReorder", Napi::Function::New(env, cacheReorder, "decoderCacheReorder"));
  exports.Set("decoderCacheClear", Napi::Function::New(env, cacheClear, "decoderCacheClear"));
  auto functional = Napi::Object::New(env);
  functional.Set("scaledDotProductAttention", Napi::Function::New(env, scaledDotProductAttention));
  functional.Set("squareSubsequentMask", Napi::Function::New(env, squareSubsequentMask));
  exports.Set("nnFunctional", functional);
}

}  // namespace mtl::napi
