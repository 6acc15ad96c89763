// The trainer's options and a fit's settings, read from the JSON the TypeScript edge validated
// (lib/train). Their defaults are here and nowhere else: the TypeScript schemas read them from
// the binding (see registry.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/options.h"

namespace mtl::train {

struct TrainerOptions {
  Options strategy = {{"kind", "joint"}};
  Options weighting = {{"kind", "equal"}};
  Options sampler;  // null: none (a strategy that requires one uses its default)
  Options optimizer = {{"kind", "adamW"}};
  Options schedule = {{"kind", "constant"}};
  int64_t batchSize = 32;
  int64_t evalBatchSize = 0;       // 0: batchSize
  double clipGradNorm = 0;         // 0: no clipping (global L2 norm over all model parameters)
  int64_t accumulateSteps = 1;     // micro-batches per optimizer step
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (CUDA only)
  uint64_t seed = 0;
  std::string onNonFinite = "stop";  // stop | skip: what a NaN/Inf loss does
  std::vector<std::string> main;     // the tasks that matter (the rest auxiliary); empty: all alike
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainerOptions, strategy, weighting, sampler, optimizer, schedule, batchSize, evalBatchSize,
                                                clipGradNorm, accumulateSteps, precision, seed, onNonFinite, main)

struct EarlyStopping {
  std::string metric = "loss";  // "task.metric", e.g. "sst2.accuracy", or "loss" (mean of task eval losses)
  int64_t patience = 3;         // evaluations without improvement
  std::string mode;             // max | min; empty: the metric's own direction
  double minDelta = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EarlyStopping, metric, patience, mode, minDelta)

// The evaluation metric that decides which weights are the best (keepBest).
struct BestModel {
  std::string metric = "loss";  // as EarlyStopping.metric
  std::string mode;             // max | min; empty: the metric's own direction
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(BestModel, metric, mode)

struct FitSettings {
  int64_t epochs = 0;  // exactly one of epochs, steps is > 0
  int64_t steps = 0;
  int64_t evalEvery = 0;  // steps between evaluations; 0: at the end of every epoch
  std::string checkpointDir;
  int64_t checkpointEvery = 0;   // steps; 0: at the end of the run only (when checkpointDir is set)
  std::string resumeFrom;        // a checkpoint file to continue from
  int64_t progressEvery = 1;     // steps between "step" events
  Options earlyStopping;         // null: none; else EarlyStopping
  Options keepBest;              // null: none; else BestModel: checkpointDir/best.safetensors holds the best weights
  int64_t diagnosticsEvery = 0;  // steps between task diagnostics (diagnostics.h); 0: none
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FitSettings, epochs, steps, evalEvery, checkpointDir, checkpointEvery, resumeFrom,
                                                progressEvery, earlyStopping, keepBest, diagnosticsEvery)

}  // namespace mtl::train
