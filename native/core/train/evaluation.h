// Evaluation of a model on data sets: every task's mean loss and the metrics its head reports
// (model::HeadEvaluator), with gradients off, in eval mode, under the trainer's precision.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "core/data/dataset.h"
#include "core/train/gradient_sync.h"
#include "core/train/trainable_model.h"

namespace mtl::train {

using Datasets = std::map<std::string, std::shared_ptr<const data::Dataset>>;
using Metrics = std::map<std::string, std::map<std::string, double>>;  // task → metric → value

struct EvaluationOptions {
  int64_t batchSize = 32;
  std::string precision = "fp32";
};

// With a data-parallel `sync`, the ranks share each data set's batches out (batch i to rank i mod W),
// and every rank's evaluator gets every batch's predictions in data set order, so every rank
// returns the metrics one process would compute on the whole set.
Metrics evaluate(TrainableModel& model, const Datasets& evalSets, const EvaluationOptions& options, GradientSync* sync = nullptr);

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
