// Round robin: tasks in their order, cycling; the position is the only state. It defines no
// distribution, so it cannot split a joint step's examples.
#include "core/train/sampler/sampler.h"

namespace mtl::train {
namespace {

class RoundRobin : public TaskSampler {
 public:
  explicit RoundRobin(int64_t tasks) : tasks_(tasks) {}
  int64_t next() override { return position_++ % tasks_; }
  std::vector<double> probabilities() const override { return {}; }
  void saveState(State& state, const std::string& prefix) const override { putInt(state, prefix + "position", position_); }
  void loadState(const State& state, const std::string& prefix) override {
    position_ = getIntIn(state, prefix + "position", 0, std::numeric_limits<int64_t>::max());
  }

 private:
  int64_t tasks_;
  int64_t position_ = 0;
};

const RegisterSampler<NoOptions> registered("roundRobin", SamplerCapabilities{false}, [](const NoOptions&, const SamplerContext& c) {
  return std::make_unique<RoundRobin>(static_cast<int64_t>(c.sizes.size()));
});

}  // namespace
}  // namespace mtl::train
