// Checkpoint files: one safetensors file holding the model's parameters and buffers
// ("model.<torch.nn name>") and the loop's state (optimizer, weighting, scaler, sampler,
// strategy, data positions, RNG, step) as tensors, and in its metadata what that state belongs to
// (tasks, optimizer, weighting, sampler and strategy kinds), so that a checkpoint is refused, naming
// the entry, before anything is restored from it when it does not fit the run. Written atomically
// (temporary file + rename, by safetensors::save).
#pragma once
#include <map>
#include <string>

#include "core/train/state.h"

namespace mtl::train {

constexpr const char* kCheckpointFormat = "mtl-torch.checkpoint.v2";

struct Checkpoint {
  State state;
  std::map<std::string, std::string> metadata;  // "format" is added on writing
  bool empty() const { return state.empty(); }
};

void writeCheckpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint readCheckpoint(const std::string& path);

// A model's weights alone (torch.nn names, no "model." prefix), as MultiTaskModel.save's
// model.safetensors holds them, with metadata.
void writeModelWeights(const std::string& path, const Checkpoint& weights);

// Refuses the checkpoint unless metadata[key] == expected, saying what the run has instead.
void requireMetadata(const Checkpoint& checkpoint, const std::string& key, const std::string& expected);

}  // namespace mtl::train
