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
  StateDictError(const std::string& message, StateDictMismatch mismatch)
      : std::invalid_argument(message), mismatch(std::move(mismatch)) {}
  StateDictMismatch mismatch;
};

// Copies `tensors` into the module's parameters and buffers by name (converting dtype and device
// to the module's). Mis-shaped keys always fail; missing and unexpected keys fail when strict,
// as in torch. Nothing is copied unless the whole dict is accepted, so a failed load leaves the
// module as it was. Returns the (non-fatal) missing and unexpected keys of a non-strict load.
StateDictMismatch loadStateDict(torch::nn::Module& module, const NamedTensors& tensors, bool strict = true);

}  // namespace mtl::nn
