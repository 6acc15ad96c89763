// The trainer's data-parallel seam (train::GradientSync) on a c10d ProcessGroup: gradients are
// averaged by a GradientReducer (buckets all-reduced while the step's last backward runs), values
// by the group's collectives. The reducer is built at the first backward, from the parameters
// setParameters() named, so that building a trainer does not wait for the other ranks.
//
// `config` (the model's and the trainer's options, as text) is compared across ranks through the
// store the first time the trainer agrees on anything (the start of a fit or an evaluation, or the
// first step): different models or options on different ranks are a start-up error naming the
// ranks, not a silent divergence.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/distributed/gradient_reducer.h"
#include "core/distributed/process_group.h"
#include "core/train/gradient_sync.h"

namespace mtl::distributed {

class DataParallel final : public train::GradientSync {
 public:
  DataParallel(std::shared_ptr<ProcessGroup> group, std::string config, GradientReducerOptions reducer = {});

  int rank() const override;
  int worldSize() const override;
  void setParameters(const std::vector<std::pair<std::string, at::Tensor>>& named) override;
  void beginBackward(const std::vector<at::Tensor>& parameters) override;
  void beforeBackward(bool last, const std::vector<at::Tensor>& roots) override;
  void finishBackward(const std::vector<at::Tensor>& parameters) override;
  void average(at::Tensor& values) override;
  void sum(at::Tensor& values) override;
  at::Tensor gatherRows(const at::Tensor& local) override;
  void broadcast(std::vector<at::Tensor>& tensors) override;
  void barrier() override;
  void agree(const std::string& what, const std::string& value) override;
  void abort(const std::string& reason) override;
  double communicationSeconds() const override { return seconds_; }

  const std::shared_ptr<ProcessGroup>& group() const { return group_; }
  // Null until the first backward.
  const GradientReducer* reducer() const { return reducer_.get(); }

 private:
  void agreeOnConfig();
  template <typename Body>
  auto timed(Body&& body) -> decltype(body());

  std::shared_ptr<ProcessGroup> group_;
  std::string config_;
  bool configAgreed_ = false;
  GradientReducerOptions reducerOptions_;
  std::vector<std::pair<std::string, at::Tensor>> named_;
  std::unique_ptr<GradientReducer> reducer_;
  bool armed_ = false;
  double seconds_ = 0;
};

}  // namespace mtl::distributed
