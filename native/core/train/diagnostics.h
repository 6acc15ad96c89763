// Why tasks help or hurt each other, measured on a step's batches before its update (asked for with
// FitSettings.diagnosticsEvery; nothing of this runs otherwise):
//   cosine[i][j]    cosine similarity of task i's and task j's gradients on the shared parameters
//                   (negative: the tasks pull the shared weights apart — gradient conflict)
//   affinity[i][j]  inter-task affinity (Fifty et al. 2021): Z(i→j) = 1 − Lⱼ(θ′ᵢ) / Lⱼ(θ), where θ′ᵢ
//                   takes a lookahead step of size `lr` along task i's shared gradient
//                   (θ′ = θ − lr·∇θₛLᵢ, the task-specific weights unchanged); positive: i's update
//                   lowers j's loss.
// The forwards run in eval mode (no dropout noise, no RNG drawn), so measuring changes nothing in
// the run but its time, which `seconds` reports.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/train/trainable_model.h"

namespace mtl::train {

struct TaskDiagnostics {
  std::vector<std::string> tasks;
  std::vector<std::vector<double>> cosine;
  std::vector<std::vector<double>> affinity;
  double lookaheadRate = 0;
  double seconds = 0;
};

// `tasks` name the batches' tasks; `shared` are the shared parameters (those gradient-based
// weightings use).
TaskDiagnostics measureDiagnostics(TrainableModel& model, const std::map<std::string, data::Batch>& batches,
                                   const std::vector<std::string>& tasks, const std::vector<at::Tensor>& shared, double lookaheadRate);

}  // namespace mtl::train
