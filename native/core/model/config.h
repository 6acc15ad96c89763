// The multi-task model's configuration as C++ structs: what lib/model validates and the binding
// converts, and what config.json holds (the PyTorch twin reads the same fields).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mtl::model {

// Token ids (inputIds [B, L]) or continuous vectors per position (features [B, L, F]).
struct InputConfig {
  int64_t vocabSize = 0;    // tokens; 0 with featureSize > 0
  int64_t maxLength = 0;    // positions of the positional encoding
  int64_t padId = 0;        // padding id of inputIds (its embedding row stays zero)
  int64_t featureSize = 0;  // > 0: inputs are features, embedded by a Linear(featureSize, dModel)
};

struct EncoderConfig {
  int64_t numLayers = 2;
  int64_t dModel = 128;
  int64_t nhead = 4;
  int64_t dimFeedforward = 512;
  double dropout = 0.1;
  std::string activation = "relu";
  bool normFirst = false;
};

enum class SharingKind { SharedEncoder, FullyShared, Layerwise, Adapters, Lora, Mmoe };

struct SharingConfig {
  SharingKind kind = SharingKind::SharedEncoder;
  int64_t sharedLayers = 0;               // layerwise
  int64_t reduction = 8;                  // adapters: bottleneck = dModel / reduction
  std::string placement = "houlsby";      // adapters: "houlsby" (after attention and FFN) | "pfeiffer" (after FFN)
  bool freezeBackbone = false;            // adapters, lora
  int64_t rank = 8;                       // lora
  double alpha = 16;                      // lora: update scaled by alpha / rank
  std::vector<std::string> targets{"q", "v"};  // lora: any of q, k, v, o
  int64_t experts = 4;                    // mmoe
  int64_t topK = 0;                       // mmoe: 0 = every expert
};

enum class HeadKind { Classification, Regression, MultiLabel, Tagging, Sequence };

struct HeadConfig {
  HeadKind kind = HeadKind::Classification;
  int64_t outputs = 1;        // classes (classification, tagging), labels (multi-label), 1 (regression)
  int64_t decoderLayers = 0;  // classification/regression/multi-label: 0 = pooling + MLP; sequence: >= 1
  double labelSmoothing = 0;  // cross-entropy heads
  int64_t ignoreIndex = -100; // cross-entropy heads: targets equal to it add no loss
  // sequence only
  int64_t vocabSize = 0;
  int64_t maxLength = 0;  // longest generated output, EOS included
  int64_t padId = 0;      // target padding (ignored by the loss)
  int64_t bosId = 1;      // prepended to the decoder input (teacher forcing, generation start)
  int64_t eosId = 2;      // ends a generated sequence
};

struct TaskConfig {
  std::string name;
  HeadConfig head;
};

struct ModelConfig {
  InputConfig input;
  EncoderConfig encoder;
  SharingConfig sharing;
  std::vector<TaskConfig> tasks;
};

SharingKind parseSharingKind(const std::string& name);
HeadKind parseHeadKind(const std::string& name);
const char* headKindName(HeadKind kind);

// Throws std::invalid_argument naming the field (e.g. "encoder.dModel (30) must be divisible by
// encoder.nhead (4)"). lib/model checks the same rules first; this guards C++ callers.
void validate(const ModelConfig& config);
void validateTask(const ModelConfig& config, const TaskConfig& task);

}  // namespace mtl::model
