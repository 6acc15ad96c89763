#include "core/model/pretrained.h"

#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/model/multitask_model.h"
#include "core/nn/state_dict.h"
#include "core/safetensors.h"

namespace mtl::model::pretrained {

namespace {

namespace fs = std::filesystem;

using nn::shapeText;

// "a, b, c and 4 more"
std::string listed(const std::vector<std::string>& items, size_t shown = 8) {
  std::ostringstream out;
  for (size_t i = 0; i < items.size() && i < shown; ++i) out << (i ? ", " : "") << items[i];
  if (items.size() > shown) out << " and " << items.size() - shown << " more";
  return out.str();
}

const FamilyEntry& familyOf(const std::string& modelType) {
  const auto& registry = Registry<FamilyEntry>::instance();
  if (!registry.contains(modelType)) {
    std::vector<std::string> known;
    for (const auto& [name, entry] : registry.entries()) known.push_back(name);
    throw CheckpointError("model_type '" + modelType + "' is not supported (supported: " + listed(known, 100) + ")");
  }
  return registry.at(modelType);
}

Family makeFamily(const std::string& modelType, const Options& config, const std::set<std::string>& names) {
  try {
    return familyOf(modelType).make(config, names);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError("config.json (model_type " + modelType + "): " + e.what());
  }
}

std::string prefixOf(const std::string& modelType) { return familyOf(modelType).capabilities.at("prefix").get<std::string>() + "."; }

// "encoder.layer.3.attention..." -> 3 when `name` is under layerPrefix; -1 otherwise.
int64_t layerIndex(const std::string& name, const std::string& layerPrefix) {
  if (name.rfind(layerPrefix, 0) != 0) return -1;
  const size_t end = name.find('.', layerPrefix.size());
  try {
    return std::stoll(name.substr(layerPrefix.size(), end - layerPrefix.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

// Model layer prefixes ("encoder.layers.0.", "layerwise.sst2.layers.1.") -> checkpoint layer index,
// for the shared stack and, when `task` is given (export) or always (load), the scheme's own layers.
std::vector<std::pair<std::string, int64_t>> layerPlacement(MultiTaskModelImpl& model, const std::string* task) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (int64_t i = 0; i < model.sharing().sharedEncoderLayers(); ++i) out.emplace_back("encoder.layers." + std::to_string(i) + ".", i);
  const std::string scheme = std::string(model.sharing().name()) + ".";
  for (const auto& [name, index] : model.sharing().encoderLayerCopies()) {
    if (task && name.rfind(*task + ".", 0) != 0) continue;
    out.emplace_back(scheme + name + ".", index);
  }
  return out;
}

}  // namespace

void requireConfig(bool ok, const std::string& message) {
  if (!ok) throw CheckpointError("config.json: " + message);
}

Checkpoint read(const std::string& dir) {
  const fs::path root(dir);
  const fs::path configPath = root / "config.json";
  std::ifstream in(configPath);
  if (!in) throw CheckpointError(configPath.string() + " cannot be read");
  Checkpoint checkpoint;
  try {
    checkpoint.config = Options::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw CheckpointError(configPath.string() + " is not valid JSON: " + e.what());
  }
  const Options& config = checkpoint.config;
  if (!config.is_object() || !config.contains("model_type") || !config.at("model_type").is_string()) {
    throw CheckpointError(configPath.string() + " has no \"model_type\" (a Hugging Face config.json names its model type)");
  }
  checkpoint.modelType = config.at("model_type").get<std::string>();
  const std::string prefix = prefixOf(checkpoint.modelType);

  checkpoint.weightsFile = (root / "model.safetensors").string();
  safetensors::Loaded loaded = safetensors::load(checkpoint.weightsFile);
  bool prefixed = false;
  for (const auto& [name, tensor] : loaded.tensors) prefixed = prefixed || name.rfind(prefix + "embeddings.", 0) == 0;
  checkpoint.prefix = prefixed ? prefix : "";
  std::set<std::string> names;
  for (auto& [name, tensor] : loaded.tensors) {
    std::string own = name;
    if (prefixed) {
      if (own.rfind(prefix, 0) != 0) continue;  // a task head's tensor (cls., classifier., lm_head., ...)
      own = own.substr(prefix.size());
    }
    // Checkpoints converted from TensorFlow name LayerNorm's parameters gamma and beta.
    for (const auto& [old, now] :
         {std::pair<const char*, const char*>{"LayerNorm.gamma", "LayerNorm.weight"}, {"LayerNorm.beta", "LayerNorm.bias"}}) {
      const std::string suffix(old);
      if (own.size() >= suffix.size() && own.compare(own.size() - suffix.size(), suffix.size(), suffix) == 0) {
        own = own.substr(0, own.size() - suffix.size()) + now;
      }
    }
    names.insert(own);
    checkpoint.tensors[own] = std::move(tensor);
  }
  checkpoint.family = makeFamily(checkpoint.modelType, config, names);
  return checkpoint;
}

void load(MultiTaskModelImpl& model, const Checkpoint& checkpoint) {
  const std::string& prefix = checkpoint.prefix;
  const Layout& layout = checkpoint.family.layout;
  std::map<std::string, at::Tensor> own;
  for (const auto& p : model.named_parameters()) own[p.key()] = p.value();

  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  std::vector<std::string> missing, misshaped, unexpected;
  std::set<std::string> used;
  int64_t layersUsed = 0;
  const auto take = [&](const std::string& ours, const std::vector<std::string>& theirs) {
    const auto dest = own.find(ours);
    if (dest == own.end()) return;  // a part this model does not have (no pooler, no projection)
    std::vector<at::Tensor> parts;
    for (const auto& name : theirs) {
      const auto found = checkpoint.tensors.find(name);
      if (found == checkpoint.tensors.end()) {
        missing.push_back(prefix + name);
      } else {
        parts.push_back(found->second);
        used.insert(name);
      }
    }
    if (parts.size() != theirs.size()) return;
    bool stackable = true;
    for (const auto& part : parts)
      stackable = stackable && part.dim() == parts[0].dim() && part.dim() > 0 && part.sizes().slice(1) == parts[0].sizes().slice(1);
    const at::Tensor source = !stackable ? at::Tensor() : parts.size() == 1 ? parts[0] : at::cat(parts, 0);
    if (!source.defined() || source.sizes() != dest->second.sizes()) {
      std::string described;
      for (size_t i = 0; i < theirs.size(); ++i) {
        described += (i ? " + " : "") + prefix + theirs[i] + " " + (i < parts.size() ? shapeText(parts[i].sizes()) : "?");
      }
      std::string wanted;
      if (theirs.size() == 1) {
        wanted = shapeText(dest->second.sizes());
      } else {
        // Each of the concatenated tensors has a third of the rows.
        std::vector<int64_t> each = dest->second.sizes().vec();
        each[0] /= static_cast<int64_t>(theirs.size());
        wanted = shapeText(each) + " each";
      }
      misshaped.push_back(described + " in model.safetensors vs " + wanted + " from config.json");
      return;
    }
    // The rule of every weight loader (nn::entryProblem): a floating weight for a floating one, finite.
    const std::string problem = nn::entryProblem(source, dest->second, nn::DtypeRule::SameKind);
    if (!problem.empty()) {
      std::string named;
      for (size_t i = 0; i < theirs.size(); ++i) named += (i ? " + " : "") + prefix + theirs[i];
      throw CheckpointError(checkpoint.weightsFile + ": '" + named + "' " + problem);
    }
    copies.emplace_back(dest->second, source);
  };

  for (const auto& map : layout.embedding) take(map.ours, map.theirs);
  for (const auto& [ourPrefix, index] : layerPlacement(model, nullptr)) {
    layersUsed = std::max(layersUsed, index + 1);
    const std::string theirPrefix = layout.layerPrefix + std::to_string(index) + ".";
    for (const auto& map : layout.layer) {
      std::vector<std::string> theirs;
      for (const auto& t : map.theirs) theirs.push_back(theirPrefix + t);
      take(ourPrefix + map.ours, theirs);
    }
  }
  const int64_t checkpointLayers = checkpoint.family.architecture.encoder.numLayers;
  for (const auto& [name, tensor] : checkpoint.tensors) {
    if (used.count(name)) continue;
    bool encoders = false;
    for (const auto& ns : layout.namespaces) encoders = encoders || name.rfind(ns, 0) == 0;
    if (!encoders || name == "embeddings.position_ids") continue;  // a head's tensor; a non-persistent buffer older files kept
    const int64_t layer = layerIndex(name, layout.layerPrefix);
    if (layer >= layersUsed && layer < checkpointLayers) continue;  // a layer beyond the ones kept ("layers": k)
    unexpected.push_back(prefix + name + " " + shapeText(tensor.sizes()));
  }
  if (!missing.empty() || !misshaped.empty() || !unexpected.empty()) {
    std::ostringstream out;
    out << checkpoint.weightsFile << " does not match config.json (model_type " << checkpoint.modelType << ")";
    if (!misshaped.empty()) out << "; size mismatch: " << listed(misshaped);
    if (!missing.empty()) out << "; missing tensors: " << listed(missing);
    if (!unexpected.empty()) out << "; unexpected tensors: " << listed(unexpected);
    throw CheckpointError(out.str());
  }
  at::NoGradGuard noGrad;
  for (auto& [dest, source] : copies) dest.copy_(source);
}

std::vector<std::pair<std::string, at::Tensor>> exportWeights(MultiTaskModelImpl& model, const std::string& modelType,
                                                              const Options& config, const std::string& task) {
  std::map<std::string, at::Tensor> own;
  for (const auto& p : model.named_parameters()) own[p.key()] = p.value();
  // The family sees the tensors the export will have (the pooler when the model kept one).
  std::set<std::string> names;
  if (own.count("pooler.weight")) names.insert("pooler.dense.weight");
  const Layout layout = makeFamily(modelType, config, names).layout;
  std::vector<std::pair<std::string, at::Tensor>> out;
  const auto give = [&](const std::string& ours, const std::vector<std::string>& theirs) {
    const auto found = own.find(ours);
    if (found == own.end()) return;
    const at::Tensor tensor = found->second.detach().to(at::kCPU);
    const auto parts = tensor.chunk(static_cast<int64_t>(theirs.size()), 0);
    for (size_t i = 0; i < theirs.size(); ++i) out.emplace_back(theirs[i], parts[i].contiguous().clone());
  };
  for (const auto& map : layout.embedding) give(map.ours, map.theirs);
  const std::string* only = task.empty() ? nullptr : &task;
  std::vector<std::pair<std::string, int64_t>> layers = layerPlacement(model, only);
  if (!only) layers.resize(static_cast<size_t>(model.sharing().sharedEncoderLayers()));
  for (const auto& [ourPrefix, index] : layers) {
    for (const auto& map : layout.layer) {
      std::vector<std::string> theirs;
      for (const auto& t : map.theirs) theirs.push_back(layout.layerPrefix + std::to_string(index) + "." + t);
      give(ourPrefix + map.ours, theirs);
    }
  }
  return out;
}

Layout bertLayout(bool pooler, bool projection) {
  Layout layout;
  layout.layerPrefix = "encoder.layer.";
  layout.namespaces = {"embeddings.", "embeddings_project.", "encoder.", "pooler."};
  layout.embedding = {
      {"embedding.token.weight", {"embeddings.word_embeddings.weight"}},
      {"embedding.position.weight", {"embeddings.position_embeddings.weight"}},
      {"embedding.token_type.weight", {"embeddings.token_type_embeddings.weight"}},
      {"embedding.norm.weight", {"embeddings.LayerNorm.weight"}},
      {"embedding.norm.bias", {"embeddings.LayerNorm.bias"}},
  };
  if (projection) {
    layout.embedding.push_back({"embedding.projection.weight", {"embeddings_project.weight"}});
    layout.embedding.push_back({"embedding.projection.bias", {"embeddings_project.bias"}});
  }
  if (pooler) {
    layout.embedding.push_back({"pooler.weight", {"pooler.dense.weight"}});
    layout.embedding.push_back({"pooler.bias", {"pooler.dense.bias"}});
  }
  const std::string self = "attention.self.";
  layout.layer = {
      {"self_attn.in_proj_weight", {self + "query.weight", self + "key.weight", self + "value.weight"}},
      {"self_attn.in_proj_bias", {self + "query.bias", self + "key.bias", self + "value.bias"}},
      {"self_attn.out_proj.weight", {"attention.output.dense.weight"}},
      {"self_attn.out_proj.bias", {"attention.output.dense.bias"}},
      {"linear1.weight", {"intermediate.dense.weight"}},
      {"linear1.bias", {"intermediate.dense.bias"}},
      {"linear2.weight", {"output.dense.weight"}},
      {"linear2.bias", {"output.dense.bias"}},
      {"norm1.weight", {"attention.output.LayerNorm.weight"}},
      {"norm1.bias", {"attention.output.LayerNorm.bias"}},
      {"norm2.weight", {"output.LayerNorm.weight"}},
      {"norm2.bias", {"output.LayerNorm.bias"}},
  };
  return layout;
}

}  // namespace mtl::model::pretrained
