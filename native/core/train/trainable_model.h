// What the native training loop needs of a model. The multi-task model implements it; the trainer,
// the weighting methods and the evaluation code depend only on this, so each can be tested alone.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/model/head.h"

namespace mtl::train {

// A named part of the model's parameters ("shared", "task:<name>", ...), so that an optimizer can
// give each part its own learning rate and weight-decay rule. Groups cover every trainable
// parameter exactly once.
struct ParameterGroup {
  std::string name;
  std::vector<at::Tensor> parameters;
  std::vector<std::string> parameterNames;  // same order as parameters (torch.nn names)
};

class TrainableModel {
 public:
  virtual ~TrainableModel() = default;

  virtual std::vector<std::string> taskNames() const = 0;

  // The differentiable scalar loss of each task on its batch. Tasks whose batches hold the same
  // inputs (the same inputIds tensor) run the shared encoder once for all of them.
  virtual std::map<std::string, at::Tensor> taskLosses(const std::map<std::string, data::Batch>& batches) = 0;

  // Parameters every task shares: gradient-based weighting (PCGrad, CAGrad, Nash-MTL, ...) works on
  // the per-task gradients of these.
  virtual std::vector<at::Tensor> sharedParameters() = 0;
  // The last shared layer's parameters (GradNorm measures per-task gradient norms there).
  virtual std::vector<at::Tensor> lastSharedParameters() = 0;
  virtual std::vector<ParameterGroup> parameterGroups() = 0;

  // Predictions for metrics, without gradients (see model::HeadImpl::predict).
  virtual at::Tensor predict(const std::string& task, const data::Batch& batch) = 0;
  // The task's kind (its head's registry name): a data set's targets must be of this kind.
  virtual std::string taskKind(const std::string& task) const = 0;
  // A fresh accumulator of the task's evaluation metrics (the head owns them).
  virtual std::unique_ptr<model::HeadEvaluator> evaluator(const std::string& task) = 0;

  // The module tree: train()/eval(), to(), named_parameters() for checkpoints.
  virtual torch::nn::Module& module() = 0;
  virtual c10::Device device() const = 0;
};

}  // namespace mtl::train
