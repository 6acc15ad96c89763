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

std::string entryProblem(const at::Tensor& value, const at::Tensor& like, DtypeRule rule) {
  if (!value.defined()) return "is undefined";
  if (rule == DtypeRule::Exact && (value.scalar_type() != like.scalar_type() || value.sizes() != like.sizes())) {
    return "has shape " + c10::str(value.sizes()) + " and dtype " + c10::toString(value.scalar_type()) + ", and this run needs " +
           c10::str(like.sizes()) + " " + c10::toString(like.scalar_type());
  }
  if (value.sizes() != like.sizes()) return "has shape " + shapeText(value.sizes()) + ", and the model's is " + shapeText(like.sizes());
  const auto kind = [](const at::Tensor& t) {
    return at::isFloatingType(t.scalar_type()) ? 0 : at::isComplexType(t.scalar_type()) ? 1 : t.scalar_type() == at::kBool ? 2 : 3;
  };
  if (kind(value) != kind(like)) {
    return std::string("is ") + c10::toString(value.scalar_type()) + ", and the model's is " + c10::toString(like.scalar_type());
  }
  if ((at::isFloatingType(value.scalar_type()) || at::isComplexType(value.scalar_type())) && value.numel() > 0 &&
      !at::isfinite(value).all().item<bool>()) {
    return "holds NaN or infinite values";
  }
  return "";
}

NamedTensors stateDict(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

StateDictMismatch loadStateDict(torch::nn::Module& module, const NamedTensors& tensors, bool strict, const std::string& source) {
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
      mismatch.misshaped.push_back(name + ": " + (tensor.defined() ? shapeText(tensor.sizes()) : "undefined") + " in the state dict vs " +
                                   shapeText(found->second.sizes()) + " in the module");
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
    throw StateDictError("Error(s) in loading state_dict" + (source.empty() ? "" : " from " + source) + ": " + out.str(), mismatch);
  }
  for (const auto& [name, tensor] : tensors) {
    const auto found = target.find(name);
    if (found == target.end()) continue;
    const std::string problem = entryProblem(tensor, found->second, DtypeRule::SameKind);
    if (!problem.empty()) throw BadEntryError("'" + name + "'" + (source.empty() ? "" : " in " + source) + " " + problem);
  }

  torch::NoGradGuard noGrad;
  for (const auto& [name, tensor] : tensors) {
    const auto found = target.find(name);
    if (found != target.end()) found->second.copy_(tensor);
  }
  return mismatch;
}

}  // namespace mtl::nn
