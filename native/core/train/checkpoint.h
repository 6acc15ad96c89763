// Checkpoint files: one safetensors file holding the model's parameters and buffers
// ("model.<torch.nn name>") and the loop's state (optimizer, weighting, scaler, sampler,
// strategy, data positions, RNG, step) as tensors, and in its metadata what that state belongs to
// (tasks, optimizer, weighting, sampler and strategy kinds), so that a checkpoint is refused, naming
// the entry, before anything is restored from it when it does not fit the run. Written atomically
// (temporary file + rename, by safetensors::save).
#pragma once
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/train/state.h"

namespace mtl::train {

// v3: every optimized parameter has its optimizer entries (and "has_state" says which hold state),
// so that a checkpoint's entries are fixed by the run and checked as a whole.
constexpr const char* kCheckpointFormat = "mtl-torch.checkpoint.v3";

struct Checkpoint {
  State state;
  std::map<std::string, std::string> metadata;  // "format" is added on writing
  std::string source;                           // the file it was read from; empty: captured in memory
  bool empty() const { return state.empty(); }
};

void writeCheckpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint readCheckpoint(const std::string& path);

// A model's weights alone (torch.nn names, no "model." prefix), as MultiTaskModel.save's
// model.safetensors holds them, with metadata.
void writeModelWeights(const std::string& path, const Checkpoint& weights);

// Refuses the checkpoint unless metadata[key] == expected, saying what the run has instead.
void requireMetadata(const Checkpoint& checkpoint, const std::string& key, const std::string& expected);

// Refuses `checkpoint` unless it is what this run would write: every metadata entry of `expected`
// equal, exactly the entries of `expected` (none missing, none unknown), each of the same dtype and
// shape, every floating value finite. The message names the first entry that differs. The owners'
// loadState then check the ranges of what they read. `optionalGroups` (entry-name prefixes) hold
// state that a fit setting adds: a checkpoint may lack a group entirely (that state starts afresh)
// or hold one this run does not write (not used); a group present on both sides is checked whole.
void checkAgainst(const Checkpoint& checkpoint, const Checkpoint& expected, const std::vector<std::string>& optionalGroups = {});

// Runs `check` (checking or restoring `checkpoint`); a refusal (std::invalid_argument, "checkpoint:
// ...") is rethrown naming the file the checkpoint was read from ("checkpoint 'path': ...").
template <typename Check>
void namingFile(const Checkpoint& checkpoint, Check&& check) {
  try {
    check();
  } catch (const std::invalid_argument& error) {
    if (checkpoint.source.empty()) throw;
    std::string message = error.what();
    const std::string prefix = "checkpoint:";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    throw std::invalid_argument("checkpoint '" + checkpoint.source + "':" + (message.empty() || message[0] == ' ' ? "" : " ") + message);
  }
}

}  // namespace mtl::train
