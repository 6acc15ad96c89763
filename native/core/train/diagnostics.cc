#include "core/train/diagnostics.h"

#include <torch/autograd.h>

#include <chrono>

#include "core/nn/eval_mode.h"

namespace mtl::train {

namespace {

std::vector<double> lossValues(TrainableModel& model, const std::map<std::string, data::Batch>& batches,
                               const std::vector<std::string>& tasks) {
  at::NoGradGuard noGrad;
  const auto losses = model.taskLosses(batches);
  std::vector<at::Tensor> ordered;
  for (const auto& task : tasks) ordered.push_back(losses.at(task).detach().to(at::kDouble));
  const at::Tensor values = at::stack(ordered).cpu().contiguous();
  return std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
}

}  // namespace

TaskDiagnostics measureDiagnostics(TrainableModel& model, const std::map<std::string, data::Batch>& batches,
                                   const std::vector<std::string>& tasks, const std::vector<at::Tensor>& shared, double lookaheadRate) {
  const auto started = std::chrono::steady_clock::now();
  nn::EvalMode eval(model.module());
  const int64_t k = static_cast<int64_t>(tasks.size());
  TaskDiagnostics out;
  out.tasks = tasks;
  out.lookaheadRate = lookaheadRate;

  // Per-task gradients of the shared parameters, one row each (zeros where a task does not reach).
  std::vector<at::Tensor> rows;
  {
    at::AutoGradMode grad(true);
    const auto losses = model.taskLosses(batches);
    for (const auto& task : tasks) {
      auto grads = torch::autograd::grad({losses.at(task)}, shared, {}, /*retain_graph=*/true, false, /*allow_unused=*/true);
      std::vector<at::Tensor> flat;
      for (size_t p = 0; p < grads.size(); ++p) {
        flat.push_back(grads[p].defined() ? grads[p].reshape(-1) : at::zeros({shared[p].numel()}, shared[p].options()));
      }
      rows.push_back(at::cat(flat).to(at::kDouble));
    }
  }
  const at::Tensor g = at::stack(rows);  // [K, P]
  const at::Tensor norms = g.norm(2, {1}).clamp_min(1e-30);
  const at::Tensor cosine = (at::matmul(g, g.t()) / at::outer(norms, norms)).cpu().contiguous();
  const double* c = cosine.data_ptr<double>();
  out.cosine.assign(k, std::vector<double>(k));
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j) out.cosine[i][j] = c[i * k + j];
  }

  // Lookahead along each task's shared gradient, then every task's loss; the weights are put back.
  const std::vector<double> before = lossValues(model, batches, tasks);
  out.affinity.assign(k, std::vector<double>(k));
  for (int64_t i = 0; i < k; ++i) {
    std::vector<at::Tensor> saved;
    {
      at::NoGradGuard noGrad;
      int64_t offset = 0;
      for (const auto& p : shared) {
        saved.push_back(p.detach().clone());
        p.detach().sub_(g[i].narrow(0, offset, p.numel()).view_as(p).to(p.scalar_type()) * lookaheadRate);
        offset += p.numel();
      }
    }
    const std::vector<double> after = lossValues(model, batches, tasks);
    {
      at::NoGradGuard noGrad;
      for (size_t p = 0; p < shared.size(); ++p) shared[p].detach().copy_(saved[p]);
    }
    for (int64_t j = 0; j < k; ++j) out.affinity[i][j] = before[j] > 0 ? 1.0 - after[j] / before[j] : 0.0;
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

}  // namespace mtl::train
