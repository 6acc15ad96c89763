#include "core/train/checkpoint.h"

#include <stdexcept>

#include "core/nn/state_dict.h"
#include "core/safetensors.h"

namespace mtl::train {

void writeCheckpoint(const std::string& path, const Checkpoint& checkpoint) {
  safetensors::NamedTensors tensors;
  for (const auto& [name, tensor] : checkpoint.state) tensors.emplace_back(name, tensor.detach().cpu().contiguous());
  safetensors::Metadata metadata(checkpoint.metadata.begin(), checkpoint.metadata.end());
  metadata["format"] = kCheckpointFormat;
  safetensors::save(path, tensors, metadata);
}

void writeModelWeights(const std::string& path, const Checkpoint& weights) {
  safetensors::NamedTensors tensors;
  for (const auto& [name, tensor] : weights.state) tensors.emplace_back(name, tensor.detach().cpu().contiguous());
  safetensors::Metadata metadata(weights.metadata.begin(), weights.metadata.end());
  metadata["format"] = "pt";
  safetensors::save(path, tensors, metadata);
}

Checkpoint readCheckpoint(const std::string& path) {
  safetensors::Loaded loaded = safetensors::load(path);
  auto format = loaded.metadata.find("format");
  if (format == loaded.metadata.end() || format->second.rfind("mtl-torch.checkpoint.", 0) != 0) {
    throw std::invalid_argument("checkpoint: '" + path + "' is not an mtl-torch checkpoint (no format " + kCheckpointFormat + ")");
  }
  if (format->second != kCheckpointFormat) {
    throw std::invalid_argument("checkpoint: '" + path + "' has format " + format->second + ", and this version of mtl-torch reads " +
                                kCheckpointFormat + " only");
  }
  Checkpoint checkpoint;
  checkpoint.source = path;
  for (auto& [name, tensor] : loaded.tensors) checkpoint.state[name] = std::move(tensor);
  checkpoint.metadata.insert(loaded.metadata.begin(), loaded.metadata.end());
  return checkpoint;
}

void requireMetadata(const Checkpoint& checkpoint, const std::string& key, const std::string& expected) {
  auto it = checkpoint.metadata.find(key);
  if (it == checkpoint.metadata.end()) throw std::invalid_argument("checkpoint: it records no '" + key + "'");
  if (it->second != expected) {
    throw std::invalid_argument("checkpoint: it was written with " + key + " '" + it->second + "', and this run has '" + expected + "'");
  }
}

void checkAgainst(const Checkpoint& checkpoint, const Checkpoint& expected, const std::vector<std::string>& optionalGroups) {
  auto groupOf = [&](const std::string& key) -> const std::string* {
    for (const auto& group : optionalGroups) {
      if (key.rfind(group, 0) == 0) return &group;
    }
    return nullptr;
  };
  auto holdsGroup = [](const State& state, const std::string& group) {
    auto it = state.lower_bound(group);
    return it != state.end() && it->first.rfind(group, 0) == 0;
  };
  for (const auto& [key, value] : expected.metadata) requireMetadata(checkpoint, key, value);
  for (const auto& [key, like] : expected.state) {
    const std::string* group = groupOf(key);
    if (group != nullptr && !holdsGroup(checkpoint.state, *group)) continue;  // written by a run without that setting
    auto it = checkpoint.state.find(key);
    if (it == checkpoint.state.end()) throw std::invalid_argument("checkpoint: missing entry '" + key + "'");
    const std::string problem = nn::entryProblem(it->second, like, nn::DtypeRule::Exact);
    if (!problem.empty()) throw std::invalid_argument("checkpoint: '" + key + "' " + problem);
  }
  for (const auto& [key, tensor] : checkpoint.state) {
    const std::string* group = groupOf(key);
    if (group != nullptr && !holdsGroup(expected.state, *group)) continue;  // this run does not use that setting
    if (!expected.state.count(key)) {
      throw std::invalid_argument("checkpoint: unexpected entry '" + key +
                                  "' (this run writes no such entry: was it saved by another model or trainer?)");
    }
  }
}

}  // namespace mtl::train
