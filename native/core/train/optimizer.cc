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

void checkConfig(const OptimizerConfig& c) {
  if (!(c.lr >= 0)) throw std::invalid_argument("optimizer: 'lr' must be >= 0");
  if (!(c.weightDecay >= 0)) throw std::invalid_argument("optimizer: 'weightDecay' must be >= 0");
  if (c.kind == "sgd") {
    if (!(c.momentum >= 0)) throw std::invalid_argument("optimizer.sgd: 'momentum' must be >= 0");
    if (c.nesterov && !(c.momentum > 0)) throw std::invalid_argument("optimizer.sgd: 'nesterov' needs a momentum > 0");
  } else if (c.kind == "adamW") {
    if (!(c.beta1 >= 0 && c.beta1 < 1)) throw std::invalid_argument("optimizer.adamW: 'betas[0]' must be in [0, 1)");
    if (!(c.beta2 >= 0 && c.beta2 < 1)) throw std::invalid_argument("optimizer.adamW: 'betas[1]' must be in [0, 1)");
    if (!(c.eps >= 0)) throw std::invalid_argument("optimizer.adamW: 'eps' must be >= 0");
  } else {
    throw std::invalid_argument("optimizer: unknown kind '" + c.kind + "'");
  }
}

std::unique_ptr<torch::optim::OptimizerOptions> groupOptions(const OptimizerConfig& c, double lr, double weightDecay) {
  if (c.kind == "sgd") {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(lr).momentum(c.momentum).nesterov(c.nesterov).weight_decay(weightDecay));
  }
  return std::make_unique<torch::optim::AdamWOptions>(
      torch::optim::AdamWOptions(lr).betas(std::make_tuple(c.beta1, c.beta2)).eps(c.eps).weight_decay(weightDecay));
}

std::vector<at::Tensor> allParameters(const torch::optim::Optimizer& optimizer) {
  std::vector<at::Tensor> out;
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) out.push_back(p);
  }
  return out;
}

}  // namespace

BuiltOptimizer buildOptimizer(const OptimizerConfig& config, const std::vector<ParameterGroup>& groups) {
  checkConfig(config);
  for (const auto& [part, lr] : config.partLearningRates) {
    const bool known = std::any_of(groups.begin(), groups.end(), [&](const ParameterGroup& g) { return g.name == part; });
    if (!known) throw std::invalid_argument("optimizer: 'partLearningRates' names '" + part + "', which is not a part of the model");
    if (!(lr >= 0)) throw std::invalid_argument("optimizer: 'partLearningRates." + part + "' must be >= 0");
  }
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
      torchGroups.emplace_back(decayed, groupOptions(config, lr, config.weightDecay));
      built.baseLearningRates.push_back(lr);
      built.groupNames.push_back(group.name);
    }
    if (!notDecayed.empty()) {
      torchGroups.emplace_back(notDecayed, groupOptions(config, lr, 0.0));
      built.baseLearningRates.push_back(lr);
      built.groupNames.push_back(group.name + "/no_decay");
    }
  }
  if (torchGroups.empty()) throw std::invalid_argument("optimizer: the model has no trainable parameters");
  if (config.kind == "sgd") {
    built.optimizer = std::make_unique<torch::optim::SGD>(std::move(torchGroups), torch::optim::SGDOptions(config.lr));
  } else {
    built.optimizer = std::make_unique<torch::optim::AdamW>(std::move(torchGroups), torch::optim::AdamWOptions(config.lr));
  }
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
