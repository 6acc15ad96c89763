// The BERT layout's families: bert, roberta, xlm-roberta (RoBERTa's positions: they count from
// pad_token_id + 1, one token type) and electra (the discriminator's encoder: embeddings
// embedding_size wide, projected to hidden_size by embeddings_project). config.json's fields
// default to Hugging Face's config classes' defaults. Encoder layers are post-norm with exact
// (erf) GELU, no dropout after the feed-forward activation, attention_probs_dropout_prob on the
// attention weights and hidden_dropout_prob elsewhere.
#include "core/model/pretrained.h"

namespace mtl::model::pretrained {
namespace {

struct BertFields {
  int64_t vocab_size = 30522;
  int64_t hidden_size = 768;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  std::string position_embedding_type = "absolute";
  int64_t embedding_size = 0;  // ELECTRA only; 0: hidden_size
};
#define BERT_FIELDS                                                                                                    \
  vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act, hidden_dropout_prob, \
      attention_probs_dropout_prob, max_position_embeddings, type_vocab_size, layer_norm_eps, pad_token_id, position_embedding_type
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BertFields, BERT_FIELDS)

struct RobertaFields : BertFields {
  RobertaFields() {
    vocab_size = 50265;
    pad_token_id = 1;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RobertaFields, BERT_FIELDS)

struct XlmRobertaFields : BertFields {
  XlmRobertaFields() { pad_token_id = 1; }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(XlmRobertaFields, BERT_FIELDS)

struct ElectraFields : BertFields {
  ElectraFields() {
    embedding_size = 128;
    hidden_size = 256;
    num_attention_heads = 4;
    intermediate_size = 1024;
  }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ElectraFields, BERT_FIELDS, embedding_size)

enum class Style { kBert, kRoberta, kElectra };

Family bertFamily(const BertFields& c, const std::set<std::string>& names, Style style) {
  requireConfig(c.vocab_size > 0 && c.hidden_size > 0 && c.num_hidden_layers > 0 && c.num_attention_heads > 0 && c.intermediate_size > 0,
                "vocab_size, hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive");
  requireConfig(c.hidden_size % c.num_attention_heads == 0, "hidden_size (" + std::to_string(c.hidden_size) +
                                                                ") must be divisible by num_attention_heads (" +
                                                                std::to_string(c.num_attention_heads) + ")");
  requireConfig(c.hidden_act == "gelu" || c.hidden_act == "relu",
                "hidden_act '" + c.hidden_act + "' is not supported (exact 'gelu' and 'relu' are)");
  requireConfig(c.position_embedding_type == "absolute",
                "position_embedding_type '" + c.position_embedding_type + "' is not supported (only 'absolute' is)");
  requireConfig(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, "pad_token_id must lie in [0, vocab_size)");
  requireConfig(c.type_vocab_size >= 1, "type_vocab_size must be at least 1");
  requireConfig(c.layer_norm_eps > 0, "layer_norm_eps must be positive");
  requireConfig(
      c.hidden_dropout_prob >= 0 && c.hidden_dropout_prob < 1 && c.attention_probs_dropout_prob >= 0 && c.attention_probs_dropout_prob < 1,
      "the dropout probabilities must lie in [0, 1)");
  const int64_t offset = style == Style::kRoberta ? c.pad_token_id + 1 : 0;
  requireConfig(c.max_position_embeddings > offset, "max_position_embeddings must exceed " + std::to_string(offset));
  const int64_t width = style == Style::kElectra && c.embedding_size > 0 ? c.embedding_size : c.hidden_size;

  Family family;
  InputConfig& input = family.architecture.input;
  input.vocabSize = c.vocab_size;
  input.maxLength = c.max_position_embeddings;
  input.padId = c.pad_token_id;
  EncoderConfig& e = family.architecture.encoder;
  e.numLayers = c.num_hidden_layers;
  e.dModel = c.hidden_size;
  e.nhead = c.num_attention_heads;
  e.dimFeedforward = c.intermediate_size;
  e.dropout = c.hidden_dropout_prob;
  e.activation = c.hidden_act;
  e.normFirst = false;
  e.layerNormEps = c.layer_norm_eps;
  e.attentionDropout = c.attention_probs_dropout_prob;
  e.activationDropout = 0;
  e.positions = "learned";
  e.positionOffset = offset;
  e.typeVocabSize = c.type_vocab_size;
  e.embeddingNorm = true;
  e.embeddingSize = width == c.hidden_size ? 0 : width;
  e.pooler = style != Style::kElectra && names.count("pooler.dense.weight") > 0;
  family.layout = bertLayout(e.pooler, e.embeddingSize > 0);
  return family;
}

template <typename Fields>
void registerBert(const char* name, const char* prefix, Style style) {
  static std::vector<std::unique_ptr<RegisterFamily<Fields>>> held;
  held.push_back(std::make_unique<RegisterFamily<Fields>>(
      name, FamilyCapabilities{prefix, "num_hidden_layers", style != Style::kRoberta},
      [style](const Fields& fields, const std::set<std::string>& names) { return bertFamily(fields, names, style); }));
}

const bool registered = [] {
  registerBert<BertFields>("bert", "bert", Style::kBert);
  registerBert<RobertaFields>("roberta", "roberta", Style::kRoberta);
  registerBert<XlmRobertaFields>("xlm-roberta", "roberta", Style::kRoberta);
  registerBert<ElectraFields>("electra", "electra", Style::kElectra);
  return true;
}();

}  // namespace
}  // namespace mtl::model::pretrained
