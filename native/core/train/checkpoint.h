// Checkpoint files: one safetensors file holding the model's parameters and buffers
// ("model.<torch.nn name>") and the loop's state (optimizer, weighting, sampler, data positions,
// RNG, step), written atomically (temporary file + rename, by safetensors::save).
#pragma once
#include <string>

#include "core/train/state.h"

namespace mtl::train {

constexpr const char* kCheckpointFormat = "mtl-torch.checkpoint.v1";

void writeCheckpoint(const std::string& path, const State& state);
State readCheckpoint(const std::string& path);

}  // namespace mtl::train
