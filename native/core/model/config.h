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

// The encoder and the input embedding's layout. The defaults are the package's own Transformer
// (sinusoidal positions, torch.nn layers); BERT-family checkpoints (model/pretrained.h) set the
// embedding fields: learned positions, token types, a LayerNorm over the summed embeddings.
struct EncoderConfig {
  int64_t numLayers = 2;
  int64_t dModel = 128;
  int64_t nhead = 4;
  int64_t dimFeedforward = 512;
  double dropout = 0.1;
  std::string activation = "relu";  // relu | gelu (exact, erf)
  bool normFirst = false;
  double layerNormEps = 1e-5;
  double attentionDropout = -1;          // on the attention weights; < 0: dropout
  double activationDropout = -1;         // after the feed-forward activation (torch's layer); < 0: dropout; BERT: 0
  std::string positions = "sinusoidal";  // sinusoidal (a fixed table) | learned (embedding.position.weight)
  // > 0 (RoBERTa: padId + 1): real tokens take positions positionOffset, positionOffset + 1, ... and
  // padding positions take position padId, whose row stays zero (fairseq's convention).
  int64_t positionOffset = 0;
  int64_t typeVocabSize = 0;   // token-type embedding rows (embedding.token_type); 0: none; 1: every token is type 0
  bool embeddingNorm = false;  // LayerNorm (embedding.norm), then dropout, over token + type + position
  int64_t embeddingSize = 0;   // 0: dModel; else embeddings this wide, projected to dModel (embedding.projection; ELECTRA)
  bool pooler = false;         // BERT's pooler: tanh(pooler(h[:, 0])), shared by heads with pooling "pretrained"
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EncoderConfig, numLayers, dModel, nhead, dimFeedforward, dropout, activation, normFirst,
                                                layerNormEps, attentionDropout, activationDropout, positions, positionOffset, typeVocabSize,
                                                embeddingNorm, embeddingSize, pooler)

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
