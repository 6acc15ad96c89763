#include "napi/registry.h"

#include <torch/nn/options/dropout.h>
#include <torch/nn/options/linear.h>
#include <torch/nn/options/normalization.h>

#include "core/model/head.h"
#include "core/model/multitask_model.h"
#include "core/model/pretrained.h"
#include "core/model/sharing.h"
#include "core/nn/multihead_attention.h"
#include "core/nn/positional_encoding.h"
#include "core/nn/transformer_layer_options.h"
#include "core/train/optimizer.h"
#include "core/train/options.h"
#include "core/train/sampler/sampler.h"
#include "core/train/schedule.h"
#include "core/train/strategy/strategy.h"
#include "core/train/weighting/weighting.h"
#include "napi/errors.h"
#include "napi/json_value.h"

namespace mtl::napi {

namespace {

// A head's target layout, for the TypeScript data sets that build any registered head's targets:
// { dtype: 'int64' | 'float32', dims: 1 | 2, trim: 'none' | 'toInputs' | 'toTargetLengths' }.
Options describeTargetLayout(const data::TargetLayout& layout) {
  if (layout.dtype != at::kLong && layout.dtype != at::kFloat)
    throw std::logic_error("registry: a head's targets must be int64 or float32");
  const char* trim = layout.trim == data::TargetLayout::Trim::ToInputs          ? "toInputs"
                     : layout.trim == data::TargetLayout::Trim::ToTargetLengths ? "toTargetLengths"
                                                                                : "none";
  return {{"dtype", layout.dtype == at::kLong ? "int64" : "float32"}, {"dims", layout.dims}, {"trim", trim}};
}

// The heads' entries, each with its target layout ("targets") beside defaults and capabilities.
Options describeHeads() {
  Options out = describeRegistry<model::HeadEntry>();
  for (const auto& [name, entry] : Registry<model::HeadEntry>::instance().entries())
    out[name]["targets"] = describeTargetLayout(entry.targets);
  return out;
}

// The mt.nn blocks' defaults, read from their options structs (TORCH_ARG defaults, torch's own for
// Linear, LayerNorm and Dropout): lib/nn fills what a user leaves out from these.
Options describeNnDefaults() {
  const nn::TransformerLayerOptions layer(1, 1);
  const nn::TransformerStackOptions stack(layer, 1);
  const nn::MultiheadAttentionOptions attention(1, 1);
  const nn::PositionalEncodingOptions positional(1, 1);
  const torch::nn::LayerNormOptions layerNorm({1});
  return {
      {"transformerLayer",
       {{"dimFeedforward", layer.dimFeedforward()},
        {"dropout", layer.dropout()},
        {"activation", layer.activation() == nn::Activation::kGelu ? "gelu" : "relu"},
        {"layerNormEps", layer.layerNormEps()},
        {"normFirst", layer.normFirst()}}},
      {"transformerStack", {{"norm", stack.norm()}}},
      {"multiheadAttention", {{"dropout", attention.dropout()}, {"bias", attention.bias()}}},
      {"positionalEncoding", {{"dropout", positional.dropout()}}},
      {"linear", {{"bias", torch::nn::LinearOptions(1, 1).bias()}}},
      {"layerNorm", {{"eps", layerNorm.eps()}, {"elementwiseAffine", layerNorm.elementwise_affine()}}},
      {"dropout", {{"p", torch::nn::DropoutOptions().p()}}},
  };
}

Options describeEverything() {
  return {
      {"sharing", describeRegistry<model::SharingEntry>()},
      {"head", describeHeads()},
      {"weighting", describeRegistry<train::WeightingEntry>()},
      {"sampler", describeRegistry<train::SamplerEntry>()},
      {"strategy", describeRegistry<train::StrategyEntry>()},
      {"optimizer", describeRegistry<train::OptimizerEntry>()},
      {"schedule", describeRegistry<train::ScheduleEntry>()},
      {"pretrained", describeRegistry<model::pretrained::FamilyEntry>()},
      {"defaults",
       {{"input", Options(model::InputConfig{})},
        {"encoder", Options(model::EncoderConfig{})},
        {"generate", Options(model::GenerateOptions{})},
        {"trainer", Options(train::TrainerOptions{})},
        {"fit", Options(train::FitSettings{})},
        {"earlyStopping", Options(train::EarlyStopping{})},
        {"nn", describeNnDefaults()}}},
  };
}

Napi::Value Registry(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return valueOf(info.Env(), describeEverything()); });
}

}  // namespace

void InitRegistry(Napi::Env env, Napi::Object exports) { exports.Set("registry", Napi::Function::New(env, Registry, "registry")); }

}  // namespace mtl::napi
