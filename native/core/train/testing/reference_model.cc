#include "core/train/testing/reference_model.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/runtime.h"

namespace mtl::train::testing {

ReferenceNetImpl::ReferenceNetImpl(const ReferenceModelConfig& config) {
  int64_t width = config.inputDim;
  if (config.inputDim <= 0) {
    if (config.vocabSize <= 0 || config.embedDim <= 0) {
      throw std::invalid_argument("referenceModel: give 'inputDim' (features) or 'vocabSize' and 'embedDim' (token ids)");
    }
    embedding = register_module("embedding", torch::nn::Embedding(config.vocabSize, config.embedDim));
    width = config.embedDim;
  }
  if (config.hidden.empty()) throw std::invalid_argument("referenceModel: 'hidden' needs at least one layer size");
  trunk = torch::nn::Sequential();
  for (int64_t size : config.hidden) {
    if (size <= 0) throw std::invalid_argument("referenceModel: every 'hidden' size must be positive");
    torch::nn::Linear linear(width, size);
    trunk->push_back(linear);
    trunk->push_back(torch::nn::ReLU());
    trunk->push_back(torch::nn::Dropout(config.dropout));
    trunkLinears.push_back(linear);
    width = size;
  }
  register_module("trunk", trunk);
  if (config.tasks.empty()) throw std::invalid_argument("referenceModel: 'tasks' is empty");
  heads = torch::nn::ModuleDict();
  for (const auto& task : config.tasks) {
    if (task.kind != "classification" && task.kind != "regression") {
      throw std::invalid_argument("referenceModel: task '" + task.name + "' has kind '" + task.kind + "' (classification or regression)");
    }
    if (task.outputs <= 0) throw std::invalid_argument("referenceModel: task '" + task.name + "' needs outputs > 0");
    std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> head{{task.name, torch::nn::Linear(width, task.outputs).ptr()}};
    heads->update(head);
  }
  register_module("heads", heads);
}

at::Tensor ReferenceNetImpl::encode(const data::Batch& batch) {
  at::Tensor input;
  if (embedding.is_empty()) {
    if (!batch.features.defined()) throw std::invalid_argument("referenceModel: the batch has no 'features'");
    input = batch.features;
  } else {
    const at::Tensor ids = batch.inputIds;
    const at::Tensor positions = at::arange(ids.size(1), ids.options()).unsqueeze(0);
    const at::Tensor mask = (positions < batch.lengths.unsqueeze(1)).to(at::kFloat).unsqueeze(2);
    input = (embedding->forward(ids) * mask).sum(1) / batch.lengths.to(at::kFloat).unsqueeze(1);
  }
  return trunk->forward(input);
}

ReferenceModel::ReferenceModel(ReferenceModelConfig config)
    : config_(std::move(config)), device_(parseDevice(config_.device)) {
  std::set<std::string> names;
  for (const auto& task : config_.tasks) {
    if (task.name.empty() || !names.insert(task.name).second) throw std::invalid_argument("referenceModel: task names must be unique and non-empty");
  }
  net_ = ReferenceNet(config_);
  net_->to(device_);
}

std::vector<std::string> ReferenceModel::taskNames() const {
  std::vector<std::string> names;
  for (const auto& task : config_.tasks) names.push_back(task.name);
  return names;
}

const ReferenceTask& ReferenceModel::task(const std::string& name) const {
  for (const auto& t : config_.tasks) {
    if (t.name == name) return t;
  }
  throw std::invalid_argument("referenceModel: no task '" + name + "'");
}

at::Tensor ReferenceModel::headOutput(const std::string& name, const at::Tensor& encoded) {
  return net_->heads[name]->as<torch::nn::Linear>()->forward(encoded);
}

std::map<std::string, at::Tensor> ReferenceModel::taskLosses(const std::map<std::string, data::Batch>& batches) {
  // Encode once per distinct input tensor: tasks given the same batch share the trunk's pass.
  std::unordered_map<const void*, at::Tensor> encodedByInput;
  std::map<std::string, at::Tensor> losses;
  for (const auto& [name, batch] : batches) {
    const ReferenceTask& spec = task(name);
    data::Batch onDevice = batch;
    const at::Tensor& key = batch.features.defined() ? batch.features : batch.inputIds;
    auto it = encodedByInput.find(key.unsafeGetTensorImpl());
    if (it == encodedByInput.end()) {
      if (onDevice.features.defined()) onDevice.features = onDevice.features.to(device_);
      if (onDevice.inputIds.defined()) onDevice.inputIds = onDevice.inputIds.to(device_), onDevice.lengths = onDevice.lengths.to(device_);
      it = encodedByInput.emplace(key.unsafeGetTensorImpl(), net_->encode(onDevice)).first;
    }
    at::Tensor output = headOutput(name, it->second);
    at::Tensor targets = batch.targets.to(device_);
    losses[name] = spec.kind == "classification" ? at::cross_entropy_loss(output.to(at::kFloat), targets)
                                                 : at::mse_loss(output.to(at::kFloat).squeeze(-1), targets.to(at::kFloat));
  }
  return losses;
}

std::vector<at::Tensor> ReferenceModel::sharedParameters() {
  std::vector<at::Tensor> out;
  if (!net_->embedding.is_empty()) out.push_back(net_->embedding->weight);
  for (const auto& p : net_->trunk->parameters()) out.push_back(p);
  return out;
}

std::vector<at::Tensor> ReferenceModel::lastSharedParameters() {
  const auto& last = net_->trunkLinears.back();
  return {last->weight, last->bias};
}

std::vector<ParameterGroup> ReferenceModel::parameterGroups() {
  std::vector<ParameterGroup> groups;
  ParameterGroup shared{"shared", {}, {}};
  for (const auto& item : net_->named_parameters(true)) {
    if (item.key().rfind("heads.", 0) == 0) continue;
    shared.parameters.push_back(item.value());
    shared.parameterNames.push_back(item.key());
  }
  groups.push_back(std::move(shared));
  for (const auto& spec : config_.tasks) {
    ParameterGroup group{"task:" + spec.name, {}, {}};
    for (const auto& item : net_->heads[spec.name]->named_parameters(true)) {
      group.parameters.push_back(item.value());
      group.parameterNames.push_back("heads." + spec.name + "." + item.key());
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

at::Tensor ReferenceModel::predict(const std::string& name, const data::Batch& batch) {
  at::NoGradGuard noGrad;
  const ReferenceTask& spec = task(name);
  data::Batch onDevice = batch;
  if (onDevice.features.defined()) onDevice.features = onDevice.features.to(device_);
  if (onDevice.inputIds.defined()) onDevice.inputIds = onDevice.inputIds.to(device_), onDevice.lengths = onDevice.lengths.to(device_);
  const bool wasTraining = net_->is_training();
  net_->eval();
  at::Tensor output = headOutput(name, net_->encode(onDevice));
  net_->train(wasTraining);
  return spec.kind == "classification" ? output.argmax(-1) : output.squeeze(-1).to(at::kFloat);
}

}  // namespace mtl::train::testing
