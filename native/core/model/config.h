// The multi-task model's configuration as C++ structs, read from the JSON that lib/model
// validates (one schema) and that config.json holds (the PyTorch twin reads the same fields).
// The sharing scheme and each task keep their own options as JSON: the scheme's and the head's
// files read them into their own structs (registry.h), so no list of their fields lives here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/options.h"

namespace mtl::model {

// Token ids (inputIds [B, L]) or continuous vectors per position (features [B, L, F]).
struct InputConfig {
  int64_t vocabSize = 0;  // tokens; 0 with features > 0
  int64_t maxLength = 0;  // positions of the positional encoding
  int64_t padId = 0;      // padding id of inputIds (its embedding row stays zero)
  int64_t features = 0;   // > 0: inputs are features, embedded by a Linear(features, dModel)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(InputConfig, vocabSize, maxLength, padId, features)

struct EncoderConfig {
  int64_t numLayers = 2;
  int64_t dModel = 128;
  int64_t nhead = 4;
  int64_t dimFeedforward = 512;
  double dropout = 0.1;
  std::string activation = "relu";
  bool normFirst = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EncoderConfig, numLayers, dModel, nhead, dimFeedforward, dropout, activation,
                                                normFirst)

struct SharingConfig {
  std::string kind = "sharedEncoder";
  Options options = Options::object();  // the whole { kind, ... } object
};

struct TaskConfig {
  std::string name;
  std::string kind;
  Options options = Options::object();  // the whole { name, kind, ... } object
};

struct ModelConfig {
  InputConfig input;
  EncoderConfig encoder;
  SharingConfig sharing;
  std::vector<TaskConfig> tasks;
};

// { input, encoder, sharing: { kind, ... }, tasks: [{ name, kind, ... }] }
ModelConfig modelConfigFromJson(const Options& json);
TaskConfig taskConfigFromJson(const Options& json);

}  // namespace mtl::model
