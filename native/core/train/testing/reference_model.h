// ReferenceModel: a small, real multi-task model implementing TrainableModel, used by the trainer's
// tests and benchmarks (and usable on its own for tabular or bag-of-tokens tasks).
//   input    the batch's `features` (float [B, F]) when inputDim > 0, else the mean of the token
//            embeddings of `inputIds` over each row's `lengths` (Embedding(vocabSize, embedDim))
//   trunk    shared: Linear → ReLU → Dropout per hidden size ("trunk.0", "trunk.3", …)
//   heads    per task: Linear(hidden, outputs) ("heads.<task>"); classification trains with
//            cross-entropy, regression with mean squared error
// Parameter names are torch.nn's for the same structure (nn.Sequential, nn.ModuleDict), so
// scripts/reference/train_step.py builds the identical model in PyTorch from the same weights.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/moduledict.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

#include "core/train/trainable_model.h"

namespace mtl::train::testing {

struct ReferenceTask {
  std::string name;
  std::string kind = "classification";  // classification | regression
  int64_t outputs = 2;                  // classes (classification); 1 (regression)
};

struct ReferenceModelConfig {
  int64_t inputDim = 0;   // > 0: read `features`
  int64_t vocabSize = 0;  // inputDim == 0: embed `inputIds`
  int64_t embedDim = 0;
  std::vector<int64_t> hidden = {32};
  double dropout = 0.0;
  std::vector<ReferenceTask> tasks;
  std::string device = "cpu";
};

class ReferenceNetImpl : public torch::nn::Module {
 public:
  explicit ReferenceNetImpl(const ReferenceModelConfig& config);
  at::Tensor encode(const data::Batch& batch);
  torch::nn::Embedding embedding{nullptr};
  torch::nn::Sequential trunk{nullptr};
  torch::nn::ModuleDict heads{nullptr};
  std::vector<torch::nn::Linear> trunkLinears;
};
TORCH_MODULE(ReferenceNet);

class ReferenceModel : public TrainableModel {
 public:
  explicit ReferenceModel(ReferenceModelConfig config);

  std::vector<std::string> taskNames() const override;
  std::map<std::string, at::Tensor> taskLosses(const std::map<std::string, data::Batch>& batches) override;
  std::vector<at::Tensor> sharedParameters() override;
  std::vector<at::Tensor> lastSharedParameters() override;
  std::vector<ParameterGroup> parameterGroups() override;
  at::Tensor predict(const std::string& task, const data::Batch& batch) override;
  torch::nn::Module& module() override { return *net_; }
  c10::Device device() const override { return device_; }

  const ReferenceModelConfig& config() const { return config_; }

 private:
  const ReferenceTask& task(const std::string& name) const;
  at::Tensor headOutput(const std::string& task, const at::Tensor& encoded);

  ReferenceModelConfig config_;
  ReferenceNet net_{nullptr};
  c10::Device device_;
};

}  // namespace mtl::train::testing
