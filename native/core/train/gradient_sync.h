// The data-parallel seam of the trainer. A step runs its backward passes between beginBackward()
// and finishBackward(); beforeBackward() comes right before each of them (last: the step's last
// micro-batch). A data-parallel implementation (c10d: core/distributed/data_parallel.h) reduces
// gradient buckets as the last backward fills them and waits for them in finishBackward(), so that
// every replica clips and steps on the same mean gradient. Values every rank must agree on before
// they are used (per-task losses, per-task gradient rows for gradient surgery, a learned
// weighting's gradient) go through average(). The fit loop and the evaluation use the rest:
// agree() at start-up, broadcast() of the initial weights, barrier() after rank 0 writes a file,
// sum() and gatherRows() for sharded evaluation, abort() when this rank fails.
// Every member is pure virtual, so an implementation cannot skip a collective by inheriting a no-op;
// a single process has nothing to reduce, and SingleProcess says so member by member.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace mtl::train {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  // The trainable parameters (torch.nn names), in the order the step passes them to beginBackward.
  virtual void setParameters(const std::vector<std::pair<std::string, at::Tensor>>& named) = 0;
  // Before the step's first backward, with the parameters the optimizer steps.
  virtual void beginBackward(const std::vector<at::Tensor>& parameters) = 0;
  // Right before each backward of the step; `roots` are the tensors it starts from.
  virtual void beforeBackward(bool last, const std::vector<at::Tensor>& roots) = 0;
  // After the step's last backward: each parameter's .grad is the mean over ranks (a parameter
  // without a gradient on every rank stays without one).
  virtual void finishBackward(const std::vector<at::Tensor>& parameters) = 0;
  // `values` ← its mean over ranks, in place.
  virtual void average(at::Tensor& values) = 0;
  // `values` ← its sum over ranks, in place.
  virtual void sum(at::Tensor& values) = 0;
  // The rows (dim 0) of every rank's `local`, in rank order.
  virtual at::Tensor gatherRows(const at::Tensor& local) = 0;
  // Every rank's tensors become rank 0's.
  virtual void broadcast(std::vector<at::Tensor>& tensors) = 0;
  virtual void barrier() = 0;
  // Refuses to go on unless every rank has the same `value` for `what` (an error names the ranks).
  virtual void agree(const std::string& what, const std::string& value) = 0;
  // This rank is failing: the others' next collective fails naming it and `reason`.
  virtual void abort(const std::string& reason) = 0;
  // Seconds spent so far in collectives (waiting included).
  virtual double communicationSeconds() const = 0;
};

class SingleProcess final : public GradientSync {
 public:
  int rank() const override { return 0; }
  int worldSize() const override { return 1; }
  void setParameters(const std::vector<std::pair<std::string, at::Tensor>>&) override {}
  void beginBackward(const std::vector<at::Tensor>&) override {}
  void beforeBackward(bool, const std::vector<at::Tensor>&) override {}
  void finishBackward(const std::vector<at::Tensor>&) override {}
  void average(at::Tensor&) override {}  // the mean over one rank is the value
  void sum(at::Tensor&) override {}
  at::Tensor gatherRows(const at::Tensor& local) override { return local; }
  void broadcast(std::vector<at::Tensor>&) override {}  // rank 0's tensors are these
  void barrier() override {}
  void agree(const std::string&, const std::string&) override {}  // one rank agrees with itself
  void abort(const std::string&) override {}                      // no other rank to tell
  double communicationSeconds() const override { return 0; }
};

}  // namespace mtl::train
