// sequence({ vocabSize, maxLength, decoderLayers, bosId, eosId, padId }): an autoregressive
// Transformer decoder with cross-attention over the encoder output.
// Training (teacher forcing): targets (B, T) are the output tokens, EOS included, padded with
// padId (or ignoreIndex); the decoder reads BOS + targets[:, :-1] under a causal mask and the
// cross-entropy ignores padding. Logits (B, T, vocabSize).
// Inference: greedy or beam search (core/model/generation.h) over the decoder's KV cache.
// Parameters: embedding.weight (padding row padId), position.pe (sinusoidal, maxLength + 1 rows),
// decoder.layers.N.*, out.{weight,bias}.
// Evaluation (greedy decoding): the phoneme/token error rate (edit distance over reference tokens)
// and the sequence ("word") error rate, comparing the tokens before EOS.
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <algorithm>

#include "core/metrics/metrics.h"
#include "core/model/generation.h"
#include "core/model/head.h"
#include "core/nn/attention.h"
#include "core/nn/positional_encoding.h"

namespace mtl::model {
namespace {

struct SequenceOptions : CrossEntropyOptions {
  int64_t vocabSize = 0;  // required
  int64_t maxLength = 0;  // required: longest generated output, EOS included
  int64_t decoderLayers = 2;
  int64_t bosId = 1;  // prepended to the decoder input (teacher forcing, generation start)
  int64_t eosId = 2;  // ends a generated sequence
  int64_t padId = 0;  // target padding (ignored by the loss)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SequenceOptions, vocabSize, maxLength, decoderLayers, bosId, eosId, padId, labelSmoothing,
                                                ignoreIndex)

// References end with EOS (their last token); a generation ends at its first EOS (then padding)
// or runs to the length limit. The error rates compare the tokens before EOS; any token the model
// generated before it counts, the pad id included.
class SequenceEvaluator : public HeadEvaluator {
 public:
  void add(const at::Tensor& predictions, const data::Batch& batch) override {
    auto refs = metrics::unpad(batch.targets, batch.targetLengths);
    auto hyps = metrics::unpad(predictions, at::full({predictions.size(0)}, predictions.size(1), at::kLong));
    for (size_t i = 0; i < refs.size(); ++i) {
      if (!refs[i].empty()) {
        const int64_t eos = refs[i].back();
        refs[i].pop_back();
        hyps[i].erase(std::find(hyps[i].begin(), hyps[i].end(), eos), hyps[i].end());
      }
      hypotheses_.push_back(std::move(hyps[i]));
      references_.push_back(std::move(refs[i]));
    }
  }
  std::map<std::string, double> metrics() const override {
    const auto errors = metrics::sequenceErrors(hypotheses_, references_);
    return {{"per", errors.tokenErrorRate()}, {"wer", errors.sequenceErrorRate()}};
  }

 private:
  std::vector<std::vector<int64_t>> hypotheses_, references_;
};

class SequenceHeadImpl : public HeadImpl {
 public:
  SequenceHeadImpl(const SequenceOptions& head, const HeadContext& context) : head_(head) {
    const auto& enc = context.config.encoder;
    embedding_ =
        register_module("embedding", torch::nn::Embedding(torch::nn::EmbeddingOptions(head.vocabSize, enc.dModel).padding_idx(head.padId)));
    position_ = register_module(
        "position", nn::SinusoidalPositionalEncoding(nn::PositionalEncodingOptions(enc.dModel, head.maxLength + 1).dropout(enc.dropout)));
    if (context.sharedDecoder) {
      decoder_ = context.sharedDecoder;
    } else {
      decoder_ = register_module("decoder", nn::TransformerDecoder(decoderOptions(enc, head.decoderLayers)));
    }
    out_ = register_module("out", torch::nn::Linear(enc.dModel, head.vocabSize));
  }

  at::Tensor forward(const Encoded& encoded, const data::Batch& batch) override {
    TORCH_CHECK(batch.targets.defined() && batch.targets.dim() == 2, "sequence targets must be (B, T) token ids");
    const at::Tensor targets = batch.targets.to(encoded.memory.device(), at::kLong);
    TORCH_CHECK(targets.size(1) <= head_.maxLength, "sequence targets have ", targets.size(1), " tokens, more than the task's maxLength ",
                head_.maxLength);
    const at::Tensor valid = validTokens(targets);
    const at::Tensor bos = at::full({targets.size(0), 1}, head_.bosId, targets.options());
    const at::Tensor shifted = at::cat({bos, targets.masked_fill(valid.logical_not(), head_.padId)}, 1).narrow(1, 0, targets.size(1));
    nn::DecoderMasks masks;
    masks.tgtMask = nn::squareSubsequentMask(targets.size(1), encoded.memory.options());
    masks.memoryKeyPaddingMask = encoded.paddingMask;
    return out_(decoder_->forward(position_(embedding_(shifted)), encoded.memory, masks));
  }

  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    const at::Tensor targets = batch.targets.to(outputs.device(), at::kLong);
    return crossEntropy(outputs, targets.masked_fill(validTokens(targets).logical_not(), head_.ignoreIndex), head_);
  }

  at::Tensor predict(const Encoded& encoded, const data::Batch&) override { return generate(encoded, {}).sequences; }
  std::unique_ptr<HeadEvaluator> makeEvaluator() const override { return std::make_unique<SequenceEvaluator>(); }

  Generated generate(const Encoded& encoded, const GenerateOptions& options) override {
    const int64_t maxLength = options.maxLength > 0 ? std::min(options.maxLength, head_.maxLength) : head_.maxLength;
    TORCH_CHECK(options.beamSize >= 1 && options.beamSize <= head_.vocabSize, "beamSize must be in [1, vocabSize]");
    const int64_t beams = options.beamSize;
    const at::Tensor memory = encoded.memory.repeat_interleave(beams, 0);
    nn::DecoderMasks masks;
    masks.memoryKeyPaddingMask = encoded.paddingMask.repeat_interleave(beams, 0);
    const DecodeStep step = [&](const at::Tensor& last, int64_t offset, nn::DecoderCache& cache) {
      const at::Tensor hidden = decoder_->forward(position_->forward(embedding_(last), offset), memory, masks, &cache);
      return at::log_softmax(out_(hidden.squeeze(1)), -1);
    };
    SearchSettings settings;
    settings.batch = encoded.memory.size(0);
    settings.beamSize = beams;
    settings.maxLength = maxLength;
    settings.lengthPenalty = options.lengthPenalty;
    settings.bosId = head_.bosId;
    settings.eosId = head_.eosId;
    settings.padId = head_.padId;
    settings.options = memory.options();
    return beamSearch(step, decoder_->makeCache(), settings);
  }

 private:
  at::Tensor validTokens(const at::Tensor& targets) const {
    return targets.ne(head_.padId).logical_and(targets.ge(0)).logical_and(targets.ne(head_.ignoreIndex));
  }
  SequenceOptions head_;
  torch::nn::Embedding embedding_{nullptr};
  nn::SinusoidalPositionalEncoding position_{nullptr};
  std::shared_ptr<nn::TransformerDecoderImpl> decoder_;
  torch::nn::Linear out_{nullptr};
};

const RegisterHead<SequenceOptions> registered(
    "sequence", HeadCapabilities{{{"per", "min"}, {"wer", "min"}}, "per", true},
    [](const SequenceOptions& options, const HeadContext& context) { return std::make_shared<SequenceHeadImpl>(options, context); },
    data::TargetLayout{at::kLong, 2, data::TargetLayout::Trim::ToTargetLengths});

}  // namespace
}  // namespace mtl::model
