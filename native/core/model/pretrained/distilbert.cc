// distilbert: DistilBertModel's layout (embeddings without token types, LayerNorm eps 1e-12,
// transformer.layer.N with q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2 and
// output_layer_norm; post-norm; no pooler). A sinusoidal_pos_embds checkpoint stores its table in
// position_embeddings.weight like any other, so it loads as a (trainable) learned table.
#include "core/model/pretrained.h"

namespace mtl::model::pretrained {
namespace {

struct DistilBertFields {
  int64_t vocab_size = 30522;
  int64_t max_position_embeddings = 512;
  int64_t n_layers = 6;
  int64_t n_heads = 12;
  int64_t dim = 768;
  int64_t hidden_dim = 3072;
  double dropout = 0.1;
  double attention_dropout = 0.1;
  std::string activation = "gelu";
  int64_t pad_token_id = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DistilBertFields, vocab_size, max_position_embeddings, n_layers, n_heads, dim, hidden_dim,
                                                dropout, attention_dropout, activation, pad_token_id)

Family distilBertFamily(const DistilBertFields& c, const std::set<std::string>&) {
  requireConfig(c.vocab_size > 0 && c.dim > 0 && c.n_layers > 0 && c.n_heads > 0 && c.hidden_dim > 0 && c.max_position_embeddings > 0,
                "vocab_size, dim, n_layers, n_heads, hidden_dim and max_position_embeddings must be positive");
  requireConfig(c.dim % c.n_heads == 0,
                "dim (" + std::to_string(c.dim) + ") must be divisible by n_heads (" + std::to_string(c.n_heads) + ")");
  requireConfig(c.activation == "gelu" || c.activation == "relu",
                "activation '" + c.activation + "' is not supported (exact 'gelu' and 'relu' are)");
  requireConfig(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, "pad_token_id must lie in [0, vocab_size)");
  requireConfig(c.dropout >= 0 && c.dropout < 1 && c.attention_dropout >= 0 && c.attention_dropout < 1,
                "the dropout probabilities must lie in [0, 1)");
  Family family;
  family.architecture.input.vocabSize = c.vocab_size;
  family.architecture.input.maxLength = c.max_position_embeddings;
  family.architecture.input.padId = c.pad_token_id;
  EncoderConfig& e = family.architecture.encoder;
  e.numLayers = c.n_layers;
  e.dModel = c.dim;
  e.nhead = c.n_heads;
  e.dimFeedforward = c.hidden_dim;
  e.dropout = c.dropout;
  e.activation = c.activation;
  e.layerNormEps = 1e-12;
  e.attentionDropout = c.attention_dropout;
  e.activationDropout = 0;
  e.positions = "learned";
  e.typeVocabSize = 0;
  e.embeddingNorm = true;

  Layout& layout = family.layout;
  layout.layerPrefix = "transformer.layer.";
  layout.namespaces = {"embeddings.", "transformer."};
  layout.embedding = {
      {"embedding.token.weight", {"embeddings.word_embeddings.weight"}},
      {"embedding.position.weight", {"embeddings.position_embeddings.weight"}},
      {"embedding.norm.weight", {"embeddings.LayerNorm.weight"}},
      {"embedding.norm.bias", {"embeddings.LayerNorm.bias"}},
  };
  layout.layer = {
      {"self_attn.in_proj_weight", {"attention.q_lin.weight", "attention.k_lin.weight", "attention.v_lin.weight"}},
      {"self_attn.in_proj_bias", {"attention.q_lin.bias", "attention.k_lin.bias", "attention.v_lin.bias"}},
      {"self_attn.out_proj.weight", {"attention.out_lin.weight"}},
      {"self_attn.out_proj.bias", {"attention.out_lin.bias"}},
      {"linear1.weight", {"ffn.lin1.weight"}},
      {"linear1.bias", {"ffn.lin1.bias"}},
      {"linear2.weight", {"ffn.lin2.weight"}},
      {"linear2.bias", {"ffn.lin2.bias"}},
      {"norm1.weight", {"sa_layer_norm.weight"}},
      {"norm1.bias", {"sa_layer_norm.bias"}},
      {"norm2.weight", {"output_layer_norm.weight"}},
      {"norm2.bias", {"output_layer_norm.bias"}},
  };
  return family;
}

const RegisterFamily<DistilBertFields> registered("distilbert", FamilyCapabilities{"distilbert", "n_layers", false}, distilBertFamily);

}  // namespace
}  // namespace mtl::model::pretrained
