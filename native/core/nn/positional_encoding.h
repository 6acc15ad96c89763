// Positional encodings added to token embeddings (batch-first, (B, L, E)), each followed by
// dropout as in the PyTorch Transformer tutorial. `offset` is the position of the first row, so
// incremental decoding can encode position n without re-encoding 0..n-1.
#pragma once
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/pimpl.h>

namespace mtl::nn {

struct PositionalEncodingOptions {
  PositionalEncodingOptions(int64_t dModel, int64_t maxLen) : dModel_(dModel), maxLen_(maxLen) {}
  TORCH_ARG(int64_t, dModel);
  TORCH_ARG(int64_t, maxLen);
  TORCH_ARG(double, dropout) = 0.0;
};

// The fixed sin/cos table of "Attention Is All You Need", computed as the PyTorch tutorial does:
// pe[p, 2i] = sin(p · 10000^(-2i/d)), pe[p, 2i+1] = cos(p · 10000^(-2i/d)). It is a buffer named
// "pe" of shape (maxLen, dModel): it follows to(), and a state dict carries it as torch's would.
class SinusoidalPositionalEncodingImpl : public torch::nn::Cloneable<SinusoidalPositionalEncodingImpl> {
 public:
  explicit SinusoidalPositionalEncodingImpl(const PositionalEncodingOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, int64_t offset = 0);

  PositionalEncodingOptions options;
  at::Tensor pe;
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(SinusoidalPositionalEncoding);

// A learned table, the parameter "weight" of shape (maxLen, dModel): the same as torch.nn.Embedding
// (maxLen, dModel) applied to positions, so a PyTorch reference is an nn.Embedding. Initialised
// N(0, 0.02) (BERT's and GPT-2's choice) rather than Embedding's N(0, 1), which would swamp the
// token embeddings it is added to.
class LearnedPositionalEncodingImpl : public torch::nn::Cloneable<LearnedPositionalEncodingImpl> {
 public:
  explicit LearnedPositionalEncodingImpl(const PositionalEncodingOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x, int64_t offset = 0);

  PositionalEncodingOptions options;
  at::Tensor weight;
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(LearnedPositionalEncoding);

// The sinusoidal table itself, (maxLen, dModel) float32.
at::Tensor sinusoidalTable(int64_t maxLen, int64_t dModel);

}  // namespace mtl::nn
