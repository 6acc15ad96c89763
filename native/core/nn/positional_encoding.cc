#include "core/nn/positional_encoding.h"

#include <cmath>

namespace mtl::nn {

namespace {
void validate(const PositionalEncodingOptions& options) {
  TORCH_CHECK(options.dModel() > 0 && options.maxLen() > 0, "d_model and max_len must be positive");
  TORCH_CHECK(options.dropout() >= 0.0 && options.dropout() <= 1.0, "dropout must be between 0 and 1");
}

// x + table[offset : offset + L], then dropout: shared by both encodings.
at::Tensor addPositions(const at::Tensor& x, const at::Tensor& table, int64_t offset, torch::nn::Dropout& dropout) {
  TORCH_CHECK(x.dim() == 3 && x.size(2) == table.size(1), "positional encoding expects (B, L, ", table.size(1), "), got ", x.sizes());
  TORCH_CHECK(offset >= 0 && offset + x.size(1) <= table.size(0), "positions ", offset, "..", offset + x.size(1) - 1, " exceed max_len ",
              table.size(0));
  return dropout(x + table.narrow(0, offset, x.size(1)));
}
}  // namespace

at::Tensor sinusoidalTable(int64_t maxLen, int64_t dModel) {
  const at::Tensor position = at::arange(maxLen, at::kFloat).unsqueeze(1);
  const at::Tensor divTerm = at::exp(at::arange(0, dModel, 2, at::kFloat) * (-std::log(10000.0) / dModel));
  at::Tensor pe = at::zeros({maxLen, dModel});
  using at::indexing::None;
  using at::indexing::Slice;
  pe.index_put_({Slice(), Slice(0, None, 2)}, at::sin(position * divTerm));
  // An odd dModel has one fewer cosine column than sine columns.
  pe.index_put_({Slice(), Slice(1, None, 2)}, at::cos(position * divTerm.narrow(0, 0, dModel / 2)));
  return pe;
}

SinusoidalPositionalEncodingImpl::SinusoidalPositionalEncodingImpl(const PositionalEncodingOptions& options_) : options(options_) {
  reset();
}

void SinusoidalPositionalEncodingImpl::reset() {
  validate(options);
  pe = register_buffer("pe", sinusoidalTable(options.maxLen(), options.dModel()));
  dropout = register_module("dropout", torch::nn::Dropout(torch::nn::DropoutOptions(options.dropout())));
}

at::Tensor SinusoidalPositionalEncodingImpl::forward(const at::Tensor& x, int64_t offset) { return addPositions(x, pe, offset, dropout); }

LearnedPositionalEncodingImpl::LearnedPositionalEncodingImpl(const PositionalEncodingOptions& options_) : options(options_) { reset(); }

void LearnedPositionalEncodingImpl::reset() {
  validate(options);
  weight = register_parameter("weight", at::empty({options.maxLen(), options.dModel()}));
  {
    torch::NoGradGuard noGrad;
    weight.normal_(0.0, 0.02);
  }
  dropout = register_module("dropout", torch::nn::Dropout(torch::nn::DropoutOptions(options.dropout())));
}

at::Tensor LearnedPositionalEncodingImpl::forward(const at::Tensor& x, int64_t offset) { return addPositions(x, weight, offset, dropout); }

}  // namespace mtl::nn
