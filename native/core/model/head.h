// A task head: turns the encoder's output into the task's outputs, and owns the task: its loss,
// its predictions, its evaluation (the metrics it reports) and the layout of its targets. Each
// kind is one file under heads/ that registers itself (registry.h) with its options struct (the
// defaults), its capabilities (metrics and the direction each improves in), its target layout and
// its factory. The trainer never asks which kind a task is.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/model/config.h"
#include "core/nn/transformer_decoder.h"
#include "core/registry.h"

namespace mtl::model {

// The encoder's view of one batch, as a head sees it.
struct Encoded {
  at::Tensor memory;       // (B, L, E)
  at::Tensor paddingMask;  // (B, L) bool, true = padding (ignored by pooling and cross-attention)
};

// Options of greedy and beam-search decoding (sequence heads).
struct GenerateOptions {
  int64_t beamSize = 1;      // 1 = greedy
  int64_t maxLength = 0;     // 0 = the head's maxLength; counts generated tokens, EOS included
  double lengthPenalty = 0;  // final beam ranking: score / length^lengthPenalty (0 = raw sum)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(GenerateOptions, beamSize, maxLength, lengthPenalty)

struct Generated {
  at::Tensor sequences;  // int64 (B, T): best hypothesis per row, EOS included, padded with padId
  at::Tensor scores;     // float (B): sum of the tokens' log-probabilities (not length-normalised)
};

// What a head needs from the model to build its layers.
struct HeadContext {
  const ModelConfig& config;
  // fullyShared: the decoder every head with decoderLayers > 0 uses instead of its own.
  std::shared_ptr<nn::TransformerDecoderImpl> sharedDecoder;
  // The encoder's pooler (encoder.pooler: BERT's, from a checkpoint), for heads with pooling "pretrained".
  std::shared_ptr<torch::nn::LinearImpl> pooler;
};

// Accumulates a head's predictions over an evaluation pass and gives its metrics.
class HeadEvaluator {
 public:
  virtual ~HeadEvaluator() = default;
  // `predictions` as HeadImpl::predict returned them for `batch` (on the CPU).
  virtual void add(const at::Tensor& predictions, const data::Batch& batch) = 0;
  virtual std::map<std::string, double> metrics() const = 0;
};

class HeadImpl : public torch::nn::Module {
 public:
  // The task's raw outputs: logits (classification, multi-label, tagging, sequence) or values
  // (regression). Sequence heads read batch.targets for teacher forcing.
  virtual at::Tensor forward(const Encoded& encoded, const data::Batch& batch) = 0;
  // Scalar loss of `outputs` (from forward) against batch.targets.
  virtual at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) = 0;
  // Predictions for metrics; runs without gradients: class ids [B] (classification), values [B]
  // (regression), 0/1 [B, K] (multi-label), ids [B, L] (tagging), generated ids [B, T] (sequence).
  virtual at::Tensor predict(const Encoded& encoded, const data::Batch& batch) = 0;
  virtual std::unique_ptr<HeadEvaluator> makeEvaluator() const = 0;
  virtual Generated generate(const Encoded& encoded, const GenerateOptions& options);
};

struct HeadCapabilities {
  // Every metric the evaluation reports, besides "loss", with the direction it improves in
  // ("max" or "min"); mainMetric is the one a model is judged by by default.
  std::map<std::string, std::string> metrics;
  std::string mainMetric;
  bool generates = false;  // generate() works
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HeadCapabilities, metrics, mainMetric, generates)

struct HeadEntry {
  static constexpr const char* kConcept = "head";
  Options defaults;
  Options capabilities;
  std::function<std::shared_ptr<HeadImpl>(const Options&, const HeadContext&)> make;
  data::TargetLayout targets;
};
// `static const RegisterHead<ClassificationOptions> registered("classification", caps, factory, targetLayout);`
template <typename KindOptions>
using RegisterHead = Register<HeadEntry, KindOptions>;

std::shared_ptr<HeadImpl> makeHead(const TaskConfig& task, const HeadContext& context);
const data::TargetLayout& targetLayoutOf(const std::string& kind);
// Whether heads of `kind` generate (their capabilities' `generates`).
bool generatesOf(const std::string& kind);
// A task's decoder layers (0 for heads without any).
int64_t decoderLayersOf(const TaskConfig& task);

// Decoder layers built like the encoder's (same dModel, nhead, feed-forward, dropout, norm order).
nn::TransformerStackOptions decoderOptions(const EncoderConfig& encoder, int64_t numLayers);
nn::TransformerLayerOptions layerOptions(const EncoderConfig& encoder);

// The options of the cross-entropy heads (classification, tagging, sequence).
struct CrossEntropyOptions {
  double labelSmoothing = 0;   // in [0, 1)
  int64_t ignoreIndex = -100;  // targets equal to it add no loss
};
// Cross-entropy over the last dimension of logits (..., C) with ignore index and label smoothing,
// as torch.nn.functional.cross_entropy (mean over the targets that are not ignored).
at::Tensor crossEntropy(const at::Tensor& logits, const at::Tensor& targets, const CrossEntropyOptions& options);

}  // namespace mtl::model
