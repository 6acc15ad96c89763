// The random samplers (proportional, temperature, uniform): one categorical distribution over
// tasks, pᵢ ∝ Nᵢ^(1/T), with proportional T = 1 and uniform every Nᵢ^(1/T) taken as 1.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "core/train/sampler/sampler.h"

namespace mtl::train {
namespace {

class Categorical : public TaskSampler {
 public:
  Categorical(const std::vector<int64_t>& sizes, double temperature, uint64_t seed)
      : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
    double total = 0;
    for (int64_t size : sizes) {
      const double weight = std::isinf(temperature) ? 1.0 : std::pow(static_cast<double>(size), 1.0 / temperature);
      probabilities_.push_back(weight);
      total += weight;
    }
    for (double& p : probabilities_) p /= total;
  }

  int64_t next() override {
    uint64_t bits;
    {
      std::lock_guard<std::mutex> lock(generator_.mutex());
      bits = at::check_generator<at::CPUGeneratorImpl>(generator_)->random64();
    }
    const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    double cumulative = 0;
    for (size_t i = 0; i < probabilities_.size(); ++i) {
      cumulative += probabilities_[i];
      if (u < cumulative) return static_cast<int64_t>(i);
    }
    return static_cast<int64_t>(probabilities_.size()) - 1;  // rounding left u above the last sum
  }

  std::vector<double> probabilities() const override { return probabilities_; }
  void saveState(State& state, const std::string& prefix) const override { state[prefix + "generator"] = generator_.get_state(); }
  void loadState(const State& state, const std::string& prefix) override { generator_.set_state(getTensor(state, prefix + "generator")); }

 private:
  std::vector<double> probabilities_;
  at::Generator generator_;
};

struct TemperatureOptions {
  double temperature = 2.0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TemperatureOptions, temperature)

const RegisterSampler<NoOptions> proportional("proportional", SamplerCapabilities{}, [](const NoOptions&, const SamplerContext& c) {
  return std::make_unique<Categorical>(c.sizes, 1.0, c.seed);
});
const RegisterSampler<TemperatureOptions> temperature("temperature", SamplerCapabilities{},
                                                      [](const TemperatureOptions& o, const SamplerContext& c) {
                                                        return std::make_unique<Categorical>(c.sizes, o.temperature, c.seed);
                                                      });
const RegisterSampler<NoOptions> uniform("uniform", SamplerCapabilities{}, [](const NoOptions&, const SamplerContext& c) {
  return std::make_unique<Categorical>(c.sizes, std::numeric_limits<double>::infinity(), c.seed);
});

}  // namespace
}  // namespace mtl::train
