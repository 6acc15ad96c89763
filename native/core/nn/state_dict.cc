#include "core/nn/state_dict.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace mtl::nn {

std::string shapeText(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

namespace {
void appendList(std::ostringstream& out, const char* title, const std::vector<std::string>& names) {
  if (names.empty()) return;
  out << (out.tellp() > 0 ? "; " : "") << title << ": ";
  for (size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << names[i];
}
}  // namespace

NamedTensors stateDict(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

StateDictMismatch loadStateDict(torch::nn::Module& module, const NamedTensors& tensors, bool strict) {
  const NamedTensors own = stateDict(module);
  std::unordered_map<std::string, at::Tensor> target;
  for (const auto& [name, tensor] : own) target.emplace(name, tensor);

  StateDictMismatch mismatch;
  std::unordered_set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    const auto found = target.find(name);
    if (found == target.end()) {
      mismatch.unexpected.push_back(name);
      continue;
    }
    seen.insert(name);
    if (!tensor.defined() || tensor.sizes() != found->second.sizes()) {
      mismatch.misshaped.push_back(name + ": " + (tensor.defined() ? shapeText(tensor.sizes()) : "undefined") +
                                   " in the state dict vs " + shapeText(found->second.sizes()) + " in the module");
    }
  }
  for (const auto& [name, tensor] : own) {
    if (!seen.count(name)) mismatch.missing.push_back(name);
  }

  const bool fatal = !mismatch.misshaped.empty() || (strict && (!mismatch.missing.empty() || !mismatch.unexpected.empty()));
  if (fatal) {
    std::ostringstream out;
    appendList(out, "size mismatch", mismatch.misshaped);
    if (strict) {
      appendList(out, "missing keys", mismatch.missing);
      appendList(out, "unexpected keys", mismatch.unexpected);
    }
    throw StateDictError("Error(s) in loading state_dict: " + out.str(), mismatch);
  }

  torch::NoGradGuard noGrad;
  for (const auto& [name, tensor] : tensors) {
    const auto found = target.find(name);
    if (found != target.end()) found->second.copy_(tensor);
  }
  return mismatch;
}

}  // namespace mtl::nn
