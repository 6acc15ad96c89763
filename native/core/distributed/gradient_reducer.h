// Averages parameter gradients across the ranks of a ProcessGroup in buckets, overlapping the
// all-reduces with backward as torch DDP's Reducer does.
//
// Parameters are packed into buckets in reverse registration order (the order backward produces
// their gradients), at most bucketBytes each (the first at most firstBucketBytes, so that
// communication starts early), never mixing dtypes or devices. A post-hook on each parameter's
// gradient accumulator copies the accumulated gradient into its bucket; a bucket whose parameters
// are all in launches its asynchronous sum all-reduce, strictly in bucket order. finishBackward()
// takes the parameters no hook delivered, launches the remaining buckets, waits, and writes every
// gradient back divided by the world size.
//
// Unused parameters (multi-task training: the heads of the tasks a step does not train). Every
// rank launches every bucket exactly once per armed backward, in bucket order, whatever its own
// gradients were, so all ranks call the same collectives in the same order even when their graphs
// differ. A parameter without a gradient on a rank contributes zeros there. One more small
// all-reduce, of per-parameter "has a gradient" flags, tells which parameters had a gradient on
// some rank: those get the average (also on ranks where they had none); those that had none on
// any rank keep an undefined gradient, exactly as in a single process, so an optimizer skips them
// (AdamW would otherwise decay weights and move moments on a zero gradient).
//
// The gradient taken for a parameter is its .grad as it stands when its bucket is filled: after
// its accumulator ran in the armed backward, or, when the graph from the roots given to
// prepareForBackward cannot reach it, at once, or else at finishBackward. A gradient changed after
// it was taken (a second backward while armed, or an in-place edit) would be lost, so
// finishBackward checks each taken gradient's identity and version counter and throws naming the
// parameter.
//
// A training step with it (every rank runs the same task plan, so the same collectives):
//   forward; per-task losses
//   group.allReduceMean(detached losses)          global losses: logging, loss-based weightings,
//                                                 the NaN/skip decision every rank must share
//   per-task gradients (autograd::grad: no hooks) then group.allReduceMean({G}) for PCGrad & co.
//   reducer.prepareForBackward({objective})       on the last micro-batch only
//   objective.backward(); manual gradient writes  (gradient surgery's shared gradient)
//   reducer.finishBackward()                      then unscale, clip, optimizer step
// No other collective may run between prepareForBackward and finishBackward (the group refuses).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/distributed/process_group.h"

namespace mtl::distributed {

struct GradientReducerOptions {
  int64_t bucketBytes = 25 * 1024 * 1024;  // DDP's bucket_cap_mb
  int64_t firstBucketBytes = 1024 * 1024;  // DDP's first bucket
};

struct GradientReducerStats {
  int64_t reductions = 0;              // finishBackward calls so far
  int64_t launchedDuringBackward = 0;  // buckets of the last reduction launched before finishBackward
  int64_t buckets = 0;
  int64_t bytes = 0;             // bytes all-reduced per reduction (buckets and flags)
  double lastFinishSeconds = 0;  // time finishBackward took last (launching the rest, waiting, writing back)
};

class GradientReducer {
 public:
  // `parameters`: (name, tensor) of every trainable parameter, in the same order on every rank;
  // each must require grad and appear once. Checks through the group's store that every rank has
  // the same names, shapes and dtypes (a DistributedError names the ranks that differ).
  GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<std::pair<std::string, at::Tensor>> parameters,
                  GradientReducerOptions options = {});
  // Removes its hooks from the gradient accumulators.
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Arms the hooks for the next backward pass. `roots` are the tensors backward will start from:
  // parameters their graph cannot reach get no gradient from it, so they are taken now and their
  // buckets can launch during backward. Without roots they are taken at finishBackward. Throws if
  // buckets of an earlier arming were launched and not finished.
  void prepareForBackward(const std::vector<at::Tensor>& roots = {});
  // Completes the reduction armed by prepareForBackward; afterwards every rank holds the same
  // averaged gradients. Throws DistributedError when a peer fails.
  void finishBackward();
  bool armed() const;

  // Parameter indices (as given to the constructor) of each bucket, in launch order.
  std::vector<std::vector<size_t>> bucketAssignment() const;
  GradientReducerStats stats() const;

 private:
  struct State;
  void onGradient(size_t index);
  std::unique_ptr<State> state_;
};

}  // namespace mtl::distributed
