#include "core/train/evaluation.h"

#include "core/compat.h"

namespace mtl::train {

AutocastScope::AutocastScope(const std::string& precision, c10::Device device) : device_(device.type()) {
  if (precision == "fp32") return;
  compat::setAutocast(device_, true, precision == "bf16" ? at::kBFloat16 : at::kHalf);
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (active_) compat::setAutocast(device_, false, device_ == c10::DeviceType::CUDA ? at::kHalf : at::kBFloat16);
}

Metrics evaluate(TrainableModel& model, const Datasets& evalSets, const EvaluationOptions& options) {
  at::NoGradGuard noGrad;
  AutocastScope autocast(options.precision, model.device());
  Metrics metrics;
  model.module().eval();
  try {
    for (const auto& [task, dataset] : evalSets) {
      auto evaluator = model.evaluator(task);
      at::Tensor lossSum = at::zeros({}, at::TensorOptions().dtype(at::kDouble).device(model.device()));
      for (const auto& indices : dataset->batchIndices(options.batchSize, c10::nullopt, false)) {
        const data::Batch batch = dataset->batch(indices);
        lossSum += model.taskLosses({{task, batch}}).at(task).detach().to(at::kDouble) * static_cast<double>(indices.numel());
        evaluator->add(model.predict(task, batch).cpu(), batch);
      }
      auto& out = metrics[task];
      out = evaluator->metrics();
      out["loss"] = lossSum.item<double>() / static_cast<double>(dataset->size());
    }
  } catch (...) {
    model.module().train();
    throw;
  }
  model.module().train();
  return metrics;
}

}  // namespace mtl::train
