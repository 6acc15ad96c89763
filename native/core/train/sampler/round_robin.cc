// Round robin: tasks in their order, cycling; the position is the only state.
#include "core/train/sampler/samplers.h"

namespace mtl::train::sampler {
namespace {

class RoundRobin : public TaskSampler {
 public:
  explicit RoundRobin(int64_t tasks) : tasks_(tasks) {}
  int64_t next() override { return position_++ % tasks_; }
  std::vector<double> probabilities() const override { return std::vector<double>(tasks_, 1.0 / static_cast<double>(tasks_)); }
  void saveState(State& state, const std::string& prefix) const override { putInt(state, prefix + "position", position_); }
  void loadState(const State& state, const std::string& prefix) override { position_ = getInt(state, prefix + "position"); }

 private:
  int64_t tasks_;
  int64_t position_ = 0;
};

}  // namespace

std::unique_ptr<TaskSampler> makeRoundRobin(int64_t tasks) { return std::make_unique<RoundRobin>(tasks); }

}  // namespace mtl::train::sampler
