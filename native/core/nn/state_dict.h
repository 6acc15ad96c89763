// State dicts of torch::nn modules under torch.nn's naming ("layers.0.self_attn.in_proj_weight"):
// parameters, then buffers, the way torch's state_dict() lists them for these blocks.
#pragma once
#include <torch/nn/module.h>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mtl::nn {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;  // order preserved

NamedTensors stateDict(const torch::nn::Module& module);

// A shape as torch prints it in load_state_dict's messages: "(2, 3)", "(5,)".
std::string shapeText(at::IntArrayRef shape);

// What load_state_dict found wrong, as torch reports it.
struct StateDictMismatch {
  std::vector<std::string> missing;     // in the module, not in the dict
  std::vector<std::string> unexpected;  // in the dict, not in the module
  std::vector<std::string> misshaped;   // "name: dict (2, 3) vs module (3, 2)"
};

// Thrown by loadStateDict; the message lists every problem.
struct StateDictError : std::invalid_argument {
  StateDictError(const std::string& message, StateDictMismatch mismatch) : std::invalid_argument(message), mismatch(std::move(mismatch)) {}
  StateDictMismatch mismatch;
};

// The one rule every weight loader applies to an entry (model load, loadStateDict, loadAdapter,
// the pretrained import, a checkpoint's resume): why `value` cannot be loaded where `like` is, as
// words to follow the entry's name ("holds NaN or infinite values"), or "" when it can. Exact: the
// same dtype and shape (a checkpoint's state); SameKind: the same shape and a dtype of the same kind
// (floating point for floating point, so float16 weights load into float32 ones; integer for integer);
// floating values must be finite.
enum class DtypeRule { Exact, SameKind };
std::string entryProblem(const at::Tensor& value, const at::Tensor& like, DtypeRule rule);

// An entry of a weights file that no model can take (entryProblem): the file's content is wrong.
struct BadEntryError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Copies `tensors` into the module's parameters and buffers by name (converting dtype and device
// to the module's). Mis-shaped keys always fail; missing and unexpected keys fail when strict,
// as in torch; an entry entryProblem refuses (SameKind) fails with BadEntryError. Nothing is copied
// unless the whole dict is accepted, so a failed load leaves the module as it was. `source` (the
// file the tensors were read from) is named in the messages. Returns the (non-fatal) missing and
// unexpected keys of a non-strict load.
StateDictMismatch loadStateDict(torch::nn::Module& module, const NamedTensors& tensors, bool strict = true, const std::string& source = "");

}  // namespace mtl::nn
