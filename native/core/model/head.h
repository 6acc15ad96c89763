// A task head: turns the encoder's output into the task's outputs, and owns the task's loss and
// predictions. Each kind lives in one file under heads/; makeHead picks one by HeadKind.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <memory>

#include "core/data/dataset.h"
#include "core/model/config.h"
#include "core/nn/transformer_decoder.h"

namespace mtl::model {

// The encoder's view of one batch, as a head sees it.
struct Encoded {
  at::Tensor memory;       // (B, L, E)
  at::Tensor paddingMask;  // (B, L) bool, true = padding (ignored by pooling and cross-attention)
};

// Options of greedy and beam-search decoding (sequence heads).
struct GenerateOptions {
  int64_t beamSize = 1;          // 1 = greedy
  int64_t maxLength = 0;         // 0 = the head's maxLength; counts generated tokens, EOS included
  double lengthPenalty = 0;      // final beam ranking: score / length^lengthPenalty (0 = raw sum)
};

struct Generated {
  at::Tensor sequences;  // int64 (B, T): best hypothesis per row, EOS included, padded with padId
  at::Tensor scores;     // float (B): sum of the tokens' log-probabilities (not length-normalised)
};

// What a head needs from the model to build its layers.
struct HeadContext {
  const ModelConfig& config;
  // fullyShared: the decoder every head with decoderLayers > 0 uses instead of its own.
  std::shared_ptr<nn::TransformerDecoderImpl> sharedDecoder;
};

class HeadImpl : public torch::nn::Module {
 public:
  // The task's raw outputs: logits (classification, multi-label, tagging, sequence) or values
  // (regression). Sequence heads read batch.targets for teacher forcing.
  virtual at::Tensor forward(const Encoded& encoded, const data::Batch& batch) = 0;
  // Scalar loss of `outputs` (from forward) against batch.targets.
  virtual at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) = 0;
  // Predictions for metrics (see TrainableModel::predict); runs without gradients.
  virtual at::Tensor predict(const Encoded& encoded, const data::Batch& batch) = 0;
  virtual Generated generate(const Encoded& encoded, const GenerateOptions& options);
};

std::shared_ptr<HeadImpl> makeHead(const HeadConfig& head, const HeadContext& context);

// One factory per file in heads/.
std::shared_ptr<HeadImpl> makeClassificationHead(const HeadConfig& head, const HeadContext& context);
std::shared_ptr<HeadImpl> makeRegressionHead(const HeadConfig& head, const HeadContext& context);
std::shared_ptr<HeadImpl> makeMultiLabelHead(const HeadConfig& head, const HeadContext& context);
std::shared_ptr<HeadImpl> makeTaggingHead(const HeadConfig& head, const HeadContext& context);
std::shared_ptr<HeadImpl> makeSequenceHead(const HeadConfig& head, const HeadContext& context);

// Decoder layers built like the encoder's (same dModel, nhead, feed-forward, dropout, norm order).
nn::TransformerStackOptions decoderOptions(const EncoderConfig& encoder, int64_t numLayers);
nn::TransformerLayerOptions layerOptions(const EncoderConfig& encoder);

// Cross-entropy over the last dimension of logits (..., C) with ignore index and label smoothing,
// as torch.nn.functional.cross_entropy (mean over the targets that are not ignored).
at::Tensor crossEntropy(const at::Tensor& logits, const at::Tensor& targets, const HeadConfig& head);

}  // namespace mtl::model
