// Evaluation of a model on data sets: every task's mean loss and the metrics its head reports
// (model::HeadEvaluator), with gradients off, in eval mode, under the trainer's precision.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "core/data/dataset.h"
#include "core/train/trainable_model.h"

namespace mtl::train {

using Datasets = std::map<std::string, std::shared_ptr<const data::Dataset>>;
using Metrics = std::map<std::string, std::map<std::string, double>>;  // task → metric → value

struct EvaluationOptions {
  int64_t batchSize = 32;
  std::string precision = "fp32";
};

Metrics evaluate(TrainableModel& model, const Datasets& evalSets, const EvaluationOptions& options);

// Autocast for the duration of a scope, in this thread (autocast state is thread-local).
class AutocastScope {
 public:
  AutocastScope(const std::string& precision, c10::Device device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool active_ = false;
};

}  // namespace mtl::train
