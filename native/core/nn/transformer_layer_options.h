// What the encoder and decoder layers share: their options (torch.nn's constructor arguments),
// the activation, and the two sub-block patterns (feed-forward; pre-/post-norm residual).
#pragma once
#include <c10/util/Optional.h>
#include <torch/arg.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <string>

namespace mtl::nn {

enum class Activation { kRelu, kGelu };

// "relu" or "gelu"; throws std::invalid_argument otherwise.
Activation parseActivation(const std::string& name);
at::Tensor activate(const at::Tensor& x, Activation activation);

// torch.nn.TransformerEncoderLayer's and TransformerDecoderLayer's arguments (batch_first=True).
struct TransformerLayerOptions {
  TransformerLayerOptions(int64_t dModel, int64_t nhead) : dModel_(dModel), nhead_(nhead) {}
  TORCH_ARG(int64_t, dModel);
  TORCH_ARG(int64_t, nhead);
  TORCH_ARG(int64_t, dimFeedforward) = 2048;
  TORCH_ARG(double, dropout) = 0.1;
  TORCH_ARG(Activation, activation) = Activation::kRelu;
  TORCH_ARG(double, layerNormEps) = 1e-5;
  TORCH_ARG(bool, normFirst) = false;
  // BERT-style layers: the attention weights' dropout and the one after the feed-forward
  // activation (torch's layer uses `dropout` for both; BERT has none after the activation).
  TORCH_ARG(c10::optional<double>, attentionDropout) = c10::nullopt;
  TORCH_ARG(c10::optional<double>, activationDropout) = c10::nullopt;
};

// A stack of layers (TransformerEncoder / TransformerDecoder) and whether a final LayerNorm
// ("norm") follows it, as torch's `norm` argument; it uses the layer's eps.
struct TransformerStackOptions {
  TransformerStackOptions(TransformerLayerOptions layer, int64_t numLayers) : layer_(layer), numLayers_(numLayers) {}
  TORCH_ARG(TransformerLayerOptions, layer);
  TORCH_ARG(int64_t, numLayers);
  TORCH_ARG(bool, norm) = false;
};

void validate(const TransformerLayerOptions& options);
void validate(const TransformerStackOptions& options);

// torch's _ff_block without its trailing dropout: linear2(dropout(activation(linear1(x)))).
at::Tensor feedForward(const at::Tensor& x, torch::nn::Linear& linear1, torch::nn::Dropout& dropout, torch::nn::Linear& linear2,
                       Activation activation);

// One residual sub-block: x + block(norm(x)) with normFirst (pre-norm), norm(x + block(x)) without.
template <typename Block>
at::Tensor residual(const at::Tensor& x, torch::nn::LayerNorm& norm, bool normFirst, Block&& block) {
  return normFirst ? x + block(norm(x)) : norm(x + block(x));
}

}  // namespace mtl::nn
