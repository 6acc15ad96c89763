#include "core/train/optimizer.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

#include "core/compat.h"

namespace mtl::train {

namespace {

// Options every kind has. `partLearningRates`: the learning rate of a model part (a ParameterGroup
// name such as "shared" or "task:sst2"), replacing `lr` for that part.
struct AdamWConfig {
  double lr = 1e-3;
  double weightDecay = 0.01;
  std::map<std::string, double> partLearningRates;
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AdamWConfig, lr, weightDecay, partLearningRates, betas, eps)

struct SgdConfig {
  double lr = 1e-3;
  double weightDecay = 0.0;
  std::map<std::string, double> partLearningRates;
  double momentum = 0.0;
  bool nesterov = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SgdConfig, lr, weightDecay, partLearningRates, momentum, nesterov)

std::vector<at::Tensor> allParameters(const torch::optim::Optimizer& optimizer) {
  std::vector<at::Tensor> out;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) out.push_back(p);
  }
  return out;
}

// One torch param group per (part, decayed?) pair; `groupOptions(lr, weightDecay)` makes the
// kind's options of a group.
template <typename Config, typename TorchOptimizer, typename GroupOptions>
BuiltOptimizer build(const Config& config, const std::vector<ParameterGroup>& groups, GroupOptions groupOptions) {
  BuiltOptimizer built;
  std::vector<torch::optim::OptimizerParamGroup> torchGroups;
  for (const auto& group : groups) {
    auto it = config.partLearningRates.find(group.name);
    const double lr = it == config.partLearningRates.end() ? config.lr : it->second;
    std::vector<at::Tensor> decayed, notDecayed;
    for (const auto& p : group.parameters) {
      if (!p.requires_grad()) continue;  // frozen parts (e.g. a frozen backbone) are not optimized
      (p.dim() <= 1 ? notDecayed : decayed).push_back(p);
    }
    if (!decayed.empty()) {
      torchGroups.emplace_back(decayed, groupOptions(lr, config.weightDecay));
      built.baseLearningRates.push_back(lr);
      built.groupNames.push_back(group.name);
    }
    if (!notDecayed.empty()) {
      torchGroups.emplace_back(notDecayed, groupOptions(lr, 0.0));
      built.baseLearningRates.push_back(lr);
      built.groupNames.push_back(group.name + "/no_decay");
    }
  }
  if (torchGroups.empty()) throw std::invalid_argument("optimizer: the model has no trainable parameters");
  built.optimizer = std::make_unique<TorchOptimizer>(std::move(torchGroups), *groupOptions(config.lr, config.weightDecay));
  return built;
}

const Register<OptimizerEntry, AdamWConfig> adamW("adamW", Options::object(), [](const AdamWConfig& c, const std::vector<ParameterGroup>& groups) {
  return build<AdamWConfig, torch::optim::AdamW>(c, groups, [&](double lr, double decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(lr).betas(std::make_tuple(c.betas.at(0), c.betas.at(1))).eps(c.eps).weight_decay(decay));
  });
});

const Register<OptimizerEntry, SgdConfig> sgd("sgd", Options::object(), [](const SgdConfig& c, const std::vector<ParameterGroup>& groups) {
  return build<SgdConfig, torch::optim::SGD>(c, groups, [&](double lr, double decay) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(decay));
  });
});

}  // namespace

BuiltOptimizer buildOptimizer(const Options& options, const std::vector<ParameterGroup>& groups) {
  BuiltOptimizer built = Registry<OptimizerEntry>::instance().at(options.at("kind").get<std::string>()).make(options, groups);
  built.kind = options.at("kind").get<std::string>();
  return built;
}

void setGroupLearningRate(torch::optim::Optimizer& optimizer, size_t group, double lr) {
  optimizer.param_groups().at(group).options().set_lr(lr);
}

void saveOptimizerState(const torch::optim::Optimizer& optimizer, State& state, const std::string& prefix) {
  const auto& states = optimizer.state();
  using StateMap = std::decay_t<decltype(states)>;
  const auto parameters = allParameters(optimizer);
  for (size_t i = 0; i < parameters.size(); ++i) {
    auto it = states.find(compat::optimizerStateKey<StateMap>(parameters[i]));
    if (it == states.end()) continue;
    const std::string key = prefix + std::to_string(i) + ".";
    const auto* base = it->second.get();
    if (const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(base)) {
      putInt(state, key + "step", s->step());
      state[key + "exp_avg"] = s->exp_avg().clone();
      state[key + "exp_avg_sq"] = s->exp_avg_sq().clone();
    } else if (const auto* s = dynamic_cast<const torch::optim::AdamParamState*>(base)) {
      putInt(state, key + "step", s->step());
      state[key + "exp_avg"] = s->exp_avg().clone();
      state[key + "exp_avg_sq"] = s->exp_avg_sq().clone();
    } else if (const auto* s = dynamic_cast<const torch::optim::SGDParamState*>(base)) {
      if (s->momentum_buffer().defined()) state[key + "momentum_buffer"] = s->momentum_buffer().clone();
    }
  }
}

void loadOptimizerState(torch::optim::Optimizer& optimizer, const State& state, const std::string& prefix) {
  auto& states = optimizer.state();
  using StateMap = std::decay_t<decltype(states)>;
  const auto parameters = allParameters(optimizer);
  states.clear();
  const bool isAdamW = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
  const bool isAdam = dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const std::string key = prefix + std::to_string(i) + ".";
    const auto& p = parameters[i];
    auto restored = [&](const std::string& name) {
      const at::Tensor& t = getTensor(state, key + name);
      if (t.sizes() != p.sizes()) throw std::invalid_argument("checkpoint: '" + key + name + "' does not match its parameter's shape");
      return t.to(p.options()).clone();
    };
    if (isAdamW || isAdam) {
      if (!hasKey(state, key + "step")) continue;
      if (isAdamW) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(getInt(state, key + "step")).exp_avg(restored("exp_avg")).exp_avg_sq(restored("exp_avg_sq"));
        states[compat::optimizerStateKey<StateMap>(p)] = std::move(s);
      } else {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(getInt(state, key + "step")).exp_avg(restored("exp_avg")).exp_avg_sq(restored("exp_avg_sq"));
        states[compat::optimizerStateKey<StateMap>(p)] = std::move(s);
      }
    } else if (hasKey(state, key + "momentum_buffer")) {
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(restored("momentum_buffer"));
      states[compat::optimizerStateKey<StateMap>(p)] = std::move(s);
    }
  }
}

}  // namespace mtl::train
