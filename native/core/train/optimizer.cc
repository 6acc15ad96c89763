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

const Register<OptimizerEntry, AdamWConfig> adamW(
    "adamW", Options::object(), [](const AdamWConfig& c, const std::vector<ParameterGroup>& groups) {
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

// Every parameter's entries are written, zeros where the optimizer holds no state for it yet (a
// task not trained so far), with `has_state` saying which hold state: a checkpoint's entries are
// then the same for every checkpoint of a run, and one that lost some is refused, never resumed
// with fresh moments.
void saveOptimizerState(const torch::optim::Optimizer& optimizer, State& state, const std::string& prefix) {
  const auto& states = optimizer.state();
  using StateMap = std::decay_t<decltype(states)>;
  const auto parameters = allParameters(optimizer);
  const bool isSgd = dynamic_cast<const torch::optim::SGD*>(&optimizer) != nullptr;
  std::vector<int64_t> hasState(parameters.size(), 0);
  for (size_t i = 0; i < parameters.size(); ++i) {
    const std::string key = prefix + std::to_string(i) + ".";
    const at::Tensor zeros = at::zeros(parameters[i].sizes(), parameters[i].options().requires_grad(false));
    auto it = states.find(compat::optimizerStateKey<StateMap>(parameters[i]));
    const auto* base = it == states.end() ? nullptr : it->second.get();
    if (isSgd) {
      const auto* s = dynamic_cast<const torch::optim::SGDParamState*>(base);
      const bool has = s != nullptr && s->momentum_buffer().defined();
      hasState[i] = has ? 1 : 0;
      state[key + "momentum_buffer"] = has ? s->momentum_buffer().clone() : zeros;
      continue;
    }
    int64_t step = 0;
    at::Tensor expAvg = zeros, expAvgSq = zeros;
    if (const auto* s = dynamic_cast<const torch::optim::AdamWParamState*>(base)) {
      step = s->step(), expAvg = s->exp_avg().clone(), expAvgSq = s->exp_avg_sq().clone();
    } else if (const auto* s = dynamic_cast<const torch::optim::AdamParamState*>(base)) {
      step = s->step(), expAvg = s->exp_avg().clone(), expAvgSq = s->exp_avg_sq().clone();
    }
    hasState[i] = base != nullptr ? 1 : 0;
    putInt(state, key + "step", step);
    state[key + "exp_avg"] = expAvg;
    state[key + "exp_avg_sq"] = expAvgSq;
  }
  state[prefix + "has_state"] = at::tensor(hasState, at::kLong);
}

void loadOptimizerState(torch::optim::Optimizer& optimizer, const State& state, const std::string& prefix) {
  auto& states = optimizer.state();
  using StateMap = std::decay_t<decltype(states)>;
  const auto parameters = allParameters(optimizer);
  const bool isAdamW = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
  const bool isAdam = dynamic_cast<torch::optim::Adam*>(&optimizer) != nullptr;
  const at::Tensor hasState = getTensor(state, prefix + "has_state").contiguous();
  if (hasState.dim() != 1 || hasState.scalar_type() != at::kLong || hasState.size(0) != static_cast<int64_t>(parameters.size())) {
    throw std::invalid_argument("checkpoint: '" + prefix + "has_state' must be an int64 tensor of " + std::to_string(parameters.size()) +
                                " entries (one per optimized parameter)");
  }
  // Checked completely before the optimizer's state changes.
  StateMap restoredStates;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const std::string key = prefix + std::to_string(i) + ".";
    const auto& p = parameters[i];
    const int64_t has = hasState.data_ptr<int64_t>()[i];
    if (has != 0 && has != 1)
      throw std::invalid_argument("checkpoint: '" + prefix + "has_state' must hold 0 or 1, got " + std::to_string(has));
    auto restored = [&](const std::string& name) {
      const at::Tensor& t = getTensor(state, key + name);
      if (t.sizes() != p.sizes() || t.scalar_type() != p.scalar_type()) {
        throw std::invalid_argument("checkpoint: '" + key + name + "' does not match its parameter's shape and dtype");
      }
      if (!at::isfinite(t).all().item<bool>()) throw std::invalid_argument("checkpoint: '" + key + name + "' holds NaN or infinite values");
      return t.to(p.options()).clone();
    };
    if (isAdamW || isAdam) {
      const int64_t step = getInt(state, key + "step");
      at::Tensor expAvg = restored("exp_avg"), expAvgSq = restored("exp_avg_sq");
      if (has == 0) continue;
      if (step < 1)
        throw std::invalid_argument("checkpoint: '" + key + "step' must be at least 1 for a parameter with state, got " +
                                    std::to_string(step));
      if ((expAvgSq < 0).any().item<bool>()) throw std::invalid_argument("checkpoint: '" + key + "exp_avg_sq' holds negative values");
      if (isAdamW) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(step).exp_avg(expAvg).exp_avg_sq(expAvgSq);
        restoredStates[compat::optimizerStateKey<StateMap>(p)] = std::move(s);
      } else {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(step).exp_avg(expAvg).exp_avg_sq(expAvgSq);
        restoredStates[compat::optimizerStateKey<StateMap>(p)] = std::move(s);
      }
    } else {
      at::Tensor buffer = restored("momentum_buffer");
      if (has == 0) continue;
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(buffer);
      restoredStates[compat::optimizerStateKey<StateMap>(p)] = std::move(s);
    }
  }
  states = std::move(restoredStates);
}

std::string describeParameterGroups(const BuiltOptimizer& built) {
  std::string out;
  const auto& groups = built.optimizer->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    out += (g ? "," : "") + (g < built.groupNames.size() ? built.groupNames[g] : std::to_string(g)) + ":" +
           std::to_string(groups[g].params().size());
  }
  return out;
}

}  // namespace mtl::train
