#include "core/train/evaluation.h"

#include "core/compat.h"
#include "core/nn/eval_mode.h"

#include <algorithm>

namespace mtl::train {

AutocastScope::AutocastScope(const std::string& precision, c10::Device device) : device_(device.type()) {
  if (precision == "fp32") return;
  compat::setAutocast(device_, true, precision == "bf16" ? at::kBFloat16 : at::kHalf);
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (active_) compat::setAutocast(device_, false, device_ == c10::DeviceType::CUDA ? at::kHalf : at::kBFloat16);
}

namespace {

// One data set's evaluation shared out over the ranks of `sync`: in round j, rank r predicts batch
// j·W + r; the predictions of the round are gathered (padded to a common width and cut back), and
// every rank adds all of them to its evaluator in batch order. Returns the summed loss over rows.
double evaluateShared(TrainableModel& model, const std::string& task, const data::Dataset& dataset, int64_t batchSize,
                      model::HeadEvaluator& evaluator, GradientSync& sync) {
  const std::vector<at::Tensor> batches = dataset.batchIndices(batchSize, c10::nullopt, false);
  const int64_t count = static_cast<int64_t>(batches.size());
  const int64_t world = sync.worldSize(), rank = sync.rank();
  at::Tensor lossSum = at::zeros({1}, at::TensorOptions().dtype(at::kDouble).device(model.device()));
  for (int64_t round = 0; round * world < count; ++round) {
    const int64_t mine = round * world + rank;
    data::Batch batch;
    at::Tensor predictions;
    at::Tensor meta = at::full({1, 4}, -1, at::kLong);  // rows, width, dtype, dims
    if (mine < count) {
      batch = dataset.batch(batches[mine]);
      lossSum += model.taskLosses({{task, batch}}).at(task).detach().to(at::kDouble) * static_cast<double>(batches[mine].numel());
      predictions = model.predict(task, batch).cpu();
      TORCH_CHECK(predictions.dim() >= 1 && predictions.dim() <= 2, "evaluation: predictions of '", task, "' must have 1 or 2 dimensions");
      meta[0][3] = predictions.dim();
      if (predictions.dim() == 1) predictions = predictions.unsqueeze(1);
      meta[0][0] = predictions.size(0);
      meta[0][1] = predictions.size(1);
      meta[0][2] = static_cast<int64_t>(predictions.scalar_type());
    }
    const at::Tensor all = sync.gatherRows(meta).contiguous();
    const int64_t* m = all.data_ptr<int64_t>();
    int64_t width = 0, type = -1;
    for (int64_t q = 0; q < world; ++q) {
      width = std::max(width, m[q * 4 + 1]);
      if (type < 0) type = m[q * 4 + 2];
    }
    const auto dtype = static_cast<at::ScalarType>(type);
    at::Tensor local = at::zeros({predictions.defined() ? predictions.size(0) : 0, width}, at::TensorOptions().dtype(dtype));
    if (predictions.defined()) local.narrow(1, 0, predictions.size(1)).copy_(predictions);
    const at::Tensor gathered = sync.gatherRows(local);
    int64_t offset = 0;
    for (int64_t q = 0; q < world && round * world + q < count; ++q) {
      const int64_t rows = m[q * 4], columns = m[q * 4 + 1];
      at::Tensor part = gathered.narrow(0, offset, rows).narrow(1, 0, columns);
      if (m[q * 4 + 3] == 1) part = part.reshape({rows});
      evaluator.add(part.contiguous(), q == rank ? batch : dataset.batch(batches[round * world + q]));
      offset += rows;
    }
  }
  sync.sum(lossSum);
  return lossSum.item<double>();
}

}  // namespace

Metrics evaluate(TrainableModel& model, const Datasets& evalSets, const EvaluationOptions& options, GradientSync* sync) {
  at::NoGradGuard noGrad;
  AutocastScope autocast(options.precision, model.device());
  Metrics metrics;
  nn::EvalMode eval(model.module());
  for (const auto& [task, dataset] : evalSets) {
    auto evaluator = model.evaluator(task);
    if (sync && sync->worldSize() > 1) {
      const double lossSum = evaluateShared(model, task, *dataset, options.batchSize, *evaluator, *sync);
      auto& out = metrics[task];
      out = evaluator->metrics();
      out["loss"] = lossSum / static_cast<double>(dataset->size());
      continue;
    }
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
  return metrics;
}

}  // namespace mtl::train
