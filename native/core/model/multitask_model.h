// The multi-task Transformer: an input embedding (tokens + sinusoidal positions, or a Linear over
// per-position feature vectors), an encoder shared according to the sharing scheme, and one head
// per task. It implements the trainer's TrainableModel.
//
// Parameter names (stable: they are the safetensors keys and the PyTorch twin's names):
//   embedding.token.weight | embedding.features.{weight,bias}; embedding.position.pe | .weight;
//   embedding.token_type.weight, embedding.norm.*, embedding.projection.* (BERT-style encoders)
//   pooler.{weight,bias}            (encoder.pooler: BERT's pooler)
//   encoder.layers.<i>.*            (torch.nn.TransformerEncoderLayer names; the shared layers)
//   decoder.layers.<i>.*            (fullyShared only: the decoder every head shares)
//   <scheme>.<task>.*, <scheme>.*   (per-task and shared parameters of the sharing scheme)
//   tasks.<task>.*                  (the head)
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <map>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/model/head.h"
#include "core/model/sharing.h"
#include "core/nn/inference.h"
#include "core/nn/positional_encoding.h"
#include "core/nn/transformer_encoder.h"
#include "core/train/trainable_model.h"

namespace mtl::model {

// Tokens (embedding.token, padding row input.padId) or features (embedding.features), plus
// positions: a sinusoidal table (embedding.position.pe, followed by dropout), or, as BERT, a
// learned one (embedding.position.weight), token types (embedding.token_type.weight), a LayerNorm
// (embedding.norm) and dropout, and ELECTRA's projection (embedding.projection). The sum runs in
// BERT's order: token + type + position.
class InputEmbeddingImpl : public torch::nn::Module {
 public:
  explicit InputEmbeddingImpl(const ModelConfig& config);
  // (B, L, E) from batch.inputIds (B, L) or batch.features (B, L, F), and batch.tokenTypeIds (B, L)
  // when the encoder has token types (absent: type 0).
  at::Tensor forward(const data::Batch& batch);
  // (B, L) bool, true at padding: positions >= lengths, or inputIds == padId without lengths.
  at::Tensor paddingMask(const data::Batch& batch) const;

 private:
  at::Tensor positionIds(const data::Batch& batch) const;

  InputConfig input_;
  EncoderConfig encoder_;
  torch::nn::Embedding token_{nullptr};
  torch::nn::Linear features_{nullptr};
  nn::SinusoidalPositionalEncoding position_{nullptr};
  torch::nn::Embedding learnedPosition_{nullptr};
  torch::nn::Embedding tokenType_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear projection_{nullptr};
};
TORCH_MODULE(InputEmbedding);

// The shared encoder's own output (embedding and the model's `encoder` stack, before any
// scheme's per-task part): what a pretrained encoder computes.
struct BackboneOutput {
  at::Tensor hidden;  // (B, L, E)
  at::Tensor pooled;  // (B, E): tanh(pooler(hidden[:, 0])); undefined without encoder.pooler
};

struct TaskResult {
  at::Tensor outputs;
  at::Tensor loss;  // undefined unless losses were asked for
};

// One task's answer of predictTasks: outputs is undefined for generating heads.
struct TaskPrediction {
  at::Tensor outputs;      // the head's forward: logits or values
  at::Tensor predictions;  // the head's predict, or the generated sequences (B, T)
  at::Tensor scores;       // generated: each sequence's sum of log-probabilities (B)
};

struct ModelSummary {
  int64_t total = 0;
  int64_t shared = 0;
  std::map<std::string, int64_t> perTask;
  int64_t trainable = 0;
  int64_t bytes = 0;  // parameters and buffers
};

class MultiTaskModelImpl : public torch::nn::Module, public train::TrainableModel {
 public:
  explicit MultiTaskModelImpl(const ModelConfig& config);

  const ModelConfig& config() const { return config_; }

  // Outputs (and, with computeLoss, losses) of each task on its batch. Tasks whose batches hold
  // the same inputs (the same inputIds or features tensor) go through the shared encoder once.
  std::map<std::string, TaskResult> forward(const std::map<std::string, data::Batch>& batches, bool computeLoss);
  Generated generate(const std::string& task, const data::Batch& batch, const GenerateOptions& options);
  // Inference for several tasks of one batch of inputs: the shared encoder runs once, each head
  // predicts (its outputs and predictions) or generates (sequence heads, with `options`). Eval mode
  // (no dropout) and no gradients whatever the model's mode, which is left as it was.
  std::map<std::string, TaskPrediction> predictTasks(const std::vector<std::string>& tasks, const data::Batch& batch,
                                                     const GenerateOptions& options);
  // The backbone's hidden states (and pooled output), with autograd.
  BackboneOutput encodeBackbone(const data::Batch& batch);
  SharingSchemeImpl& sharing() { return *sharing_; }

  // A new task on this (possibly trained) model: shared weights are kept, the new head and the
  // scheme's per-task parameters are freshly initialised.
  void addTask(const TaskConfig& task);
  // Takes back the last task addTask added (a refused loadAdapter): the model is as before it.
  void removeLastTask();

  // Parts for freeze/unfreeze: "embedding", "encoder", "decoder", "backbone" (every shared
  // parameter), "sharing" (the scheme's parameters), "heads", or a task name (its head and its
  // scheme parameters).
  std::vector<std::pair<std::string, at::Tensor>> partParameters(const std::string& part);
  void setTrainable(const std::string& part, bool trainable);

  ModelSummary summary() const;
  // The task owning a parameter, "" for shared ones.
  std::string ownerOf(const std::string& parameterName) const;
  int64_t sharedEncoderRuns() const { return sharedEncoderRuns_; }
  void moveTo(const c10::Device& device);

  // The precision predict() and generate() compute in (training is unaffected): fp32, bf16
  // (autocast on the model's device) or int8 (dynamic quantization of the linear layers, CPU only).
  void setPrecision(nn::Precision precision);
  nn::Precision precision() const { return precision_; }

  // TrainableModel
  std::vector<std::string> taskNames() const override;
  std::map<std::string, at::Tensor> taskLosses(const std::map<std::string, data::Batch>& batches) override;
  std::vector<at::Tensor> sharedParameters() override;
  std::vector<at::Tensor> lastSharedParameters() override;
  std::vector<train::ParameterGroup> parameterGroups() override;
  at::Tensor predict(const std::string& task, const data::Batch& batch) override;
  std::string taskKind(const std::string& task) const override;
  std::unique_ptr<HeadEvaluator> evaluator(const std::string& task) override;
  torch::nn::Module& module() override { return *this; }
  c10::Device device() const override { return device_; }

 private:
  data::Batch onDevice(const data::Batch& batch) const;
  HeadImpl& head(const std::string& task);
  // Encoder outputs of `tasks`, all reading `batch`'s inputs (already on the device).
  std::map<std::string, Encoded> encode(const data::Batch& batch, const std::vector<std::string>& tasks);

  ModelConfig config_;
  c10::Device device_{c10::kCPU};
  InputEmbedding embedding_{nullptr};
  nn::TransformerEncoder encoder_{nullptr};
  std::shared_ptr<SharingSchemeImpl> sharing_;
  std::shared_ptr<nn::TransformerDecoderImpl> sharedDecoder_;
  torch::nn::Linear pooler_{nullptr};
  std::shared_ptr<torch::nn::Module> tasks_;
  std::map<std::string, std::shared_ptr<HeadImpl>> heads_;
  int64_t sharedEncoderRuns_ = 0;
  nn::Precision precision_ = nn::Precision::kFp32;
  nn::Int8Linears int8_;
  friend class InferenceScope;
};

}  // namespace mtl::model
