#include "core/train/checkpoint.h"

#include <stdexcept>

#include "core/safetensors.h"

namespace mtl::train {

void writeCheckpoint(const std::string& path, const State& state) {
  safetensors::NamedTensors tensors;
  for (const auto& [name, tensor] : state) tensors.emplace_back(name, tensor.detach().cpu().contiguous());
  safetensors::save(path, tensors, {{"format", kCheckpointFormat}});
}

State readCheckpoint(const std::string& path) {
  safetensors::Loaded loaded = safetensors::load(path);
  auto format = loaded.metadata.find("format");
  if (format == loaded.metadata.end() || format->second != kCheckpointFormat) {
    throw std::invalid_argument("checkpoint: '" + path + "' is not an mtl-torch checkpoint (no format " + kCheckpointFormat + ")");
  }
  State state;
  for (auto& [name, tensor] : loaded.tensors) state[name] = std::move(tensor);
  return state;
}

}  // namespace mtl::train
