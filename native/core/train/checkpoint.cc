#include "core/train/checkpoint.h"

#include <stdexcept>

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
  if (format == loaded.metadata.end() || format->second != kCheckpointFormat) {
    throw std::invalid_argument("checkpoint: '" + path + "' is not an mtl-torch checkpoint (no format " + kCheckpointFormat + ")");
  }
  Checkpoint checkpoint;
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

}  // namespace mtl::train
