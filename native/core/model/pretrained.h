// Pretrained encoders from Hugging Face model directories (config.json + model.safetensors): the
// BERT family. Each family (config.json's model_type) is one file under pretrained/ that registers
// itself (registry.h) with its config.json fields and their defaults (Hugging Face's config class
// defaults) and a factory giving the Architecture the model is built with and the Layout that maps
// the checkpoint's parameter names onto the model's. The same layout maps them back on export, so
// a fine-tuned encoder loads in transformers again.
//
// Checkpoint names are taken without the base-model prefix ("bert.", "roberta.", ...): a
// BertModel's own file has none, a BertForSequenceClassification's has it. Tensors outside the
// encoder (task heads: cls., classifier., lm_head., ...) are not the encoder's and are skipped.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/registry.h"

namespace mtl::model {
class MultiTaskModelImpl;
}

namespace mtl::model::pretrained {

// A checkpoint that cannot be used as it is (unknown layout, config/weights mismatch, ...). The
// binding reports it with the code ERR_BAD_CHECKPOINT.
struct CheckpointError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Refuses a config.json field: throws CheckpointError("config.json: " + message) unless ok.
void requireConfig(bool ok, const std::string& message);

// What the model is built with.
struct Architecture {
  InputConfig input;
  EncoderConfig encoder;
};

// One model tensor and the checkpoint tensors it is made of, concatenated along dim 0 (the packed
// q/k/v projection of torch's MultiheadAttention is three checkpoint tensors).
struct WeightMap {
  std::string ours;
  std::vector<std::string> theirs;
};

struct Layout {
  std::string layerPrefix;              // the checkpoint's layer i lives under layerPrefix + i + "."
  std::vector<WeightMap> embedding;     // model names (embedding.*, pooler.*) <- checkpoint names
  std::vector<WeightMap> layer;         // names within one encoder layer (self_attn.in_proj_weight, ...)
  std::vector<std::string> namespaces;  // checkpoint name prefixes that belong to the encoder
};

struct Family {
  Architecture architecture;  // the whole checkpoint (every layer)
  Layout layout;
};

struct FamilyCapabilities {
  std::string prefix;      // base-model prefix in task checkpoints ("bert")
  std::string layersKey;   // config.json's layer count ("num_hidden_layers", "n_layers")
  bool tokenTypes = true;  // whether segment (token-type) ids reach the model
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FamilyCapabilities, prefix, layersKey, tokenTypes)

struct FamilyEntry {
  static constexpr const char* kConcept = "pretrained model_type";
  Options defaults;      // config.json's fields with Hugging Face's defaults
  Options capabilities;  // FamilyCapabilities
  // (config.json, the checkpoint's tensor names without the prefix) -> Family
  std::function<Family(const Options&, const std::set<std::string>&)> make;
};
template <typename KindOptions>
using RegisterFamily = Register<FamilyEntry, KindOptions>;

// A checkpoint read from a directory.
struct Checkpoint {
  std::string modelType;
  Options config;                             // config.json as written
  std::string prefix;                         // "bert." when the file's names have it, else ""
  std::map<std::string, at::Tensor> tensors;  // without the base-model prefix; LayerNorm gamma/beta renamed
  Family family;
  std::string weightsFile;  // dir/model.safetensors, named in refusals
};

// Reads dir/config.json and dir/model.safetensors. Throws CheckpointError for a model_type no
// family handles or a config.json the family refuses.
Checkpoint read(const std::string& dir);

// Copies the checkpoint into a model built from its architecture (possibly with fewer layers: the
// first ones are kept): the embedding, the pooler, the shared encoder layers and the layers a
// sharing scheme keeps of its own (SharingSchemeImpl::encoderLayerCopies). Every tensor is checked
// first; a missing, misshaped or unexpected tensor throws CheckpointError naming the keys and
// shapes, and the model is left untouched.
void load(MultiTaskModelImpl& model, const Checkpoint& checkpoint);

// The model's encoder under the checkpoint's names (no prefix): the embedding, the pooler and the
// shared encoder layers, followed, with a task, by the layers the scheme keeps for that task.
std::vector<std::pair<std::string, at::Tensor>> exportWeights(MultiTaskModelImpl& model, const std::string& modelType,
                                                              const Options& config, const std::string& task);

// The BERT layout (BERT, RoBERTa, XLM-R, ELECTRA): layer names and the embedding's.
Layout bertLayout(bool pooler, bool projection);

}  // namespace mtl::model::pretrained
