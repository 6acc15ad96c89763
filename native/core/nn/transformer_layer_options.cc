#include "core/nn/transformer_layer_options.h"

#include "core/nn/inference.h"

#include <stdexcept>

namespace mtl::nn {

Activation parseActivation(const std::string& name) {
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu") return Activation::kGelu;
  throw std::invalid_argument("activation should be relu/gelu, not " + name);
}

at::Tensor activate(const at::Tensor& x, Activation activation) { return activation == Activation::kGelu ? at::gelu(x) : at::relu(x); }

void validate(const TransformerLayerOptions& options) {
  TORCH_CHECK(options.dModel() > 0 && options.nhead() > 0 && options.dimFeedforward() > 0,
              "d_model, nhead and dim_feedforward must be positive");
  TORCH_CHECK(options.dModel() % options.nhead() == 0, "d_model (", options.dModel(), ") must be divisible by nhead (", options.nhead(),
              ")");
  TORCH_CHECK(options.dropout() >= 0.0 && options.dropout() <= 1.0, "dropout must be between 0 and 1");
  for (const auto& p : {options.attentionDropout(), options.activationDropout()}) {
    TORCH_CHECK(!p || (*p >= 0.0 && *p <= 1.0), "dropout must be between 0 and 1");
  }
  TORCH_CHECK(options.layerNormEps() > 0.0, "layer_norm_eps must be positive");
}

void validate(const TransformerStackOptions& options) {
  validate(options.layer());
  TORCH_CHECK(options.numLayers() > 0, "num_layers must be positive");
}

at::Tensor feedForward(const at::Tensor& x, torch::nn::Linear& linear1, torch::nn::Dropout& dropout, torch::nn::Linear& linear2,
                       Activation activation) {
  return linear(linear2, dropout(activate(linear(linear1, x), activation)));
}

}  // namespace mtl::nn
