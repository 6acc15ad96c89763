// Every loss-weighting method against a PyTorch reference written from its paper's formula
// (test/parity/oracles/weighting.py): given the same losses and per-task gradients, the λ each method
// reports (and really applies: ∂objective/∂Lᵢ), the gradient it sends to the shared parameters and
// its learned parameters over 20 steps agree. Then properties: DWA adapts from the third period,
// per epoch or per `window` steps; learned weightings move; unknown kinds and missing λ are refused.
#include <torch/autograd.h>

#include <algorithm>

#include "core/train/weighting/weighting.h"
#include "support.h"

namespace mtl::testing {
namespace {

constexpr int64_t kTasks = 3;
constexpr int64_t kParameters = 7;
const std::vector<std::string> kNames{"a", "b", "c"};

struct Step {
  std::vector<double> losses;
  std::vector<std::vector<double>> grads;  // [K][P]
  int64_t epoch = 0;
  std::vector<double> after;  // the same batch's losses after the optimizer step (FAMO's default update)
};

struct Case {
  std::string name;
  nlohmann::json options;  // the native method's options, { kind, ... }
  std::vector<Step> steps;
  std::vector<std::string> main = {};  // the trainer's main tasks (auxiliary mode)
};

// The shared parameters the P gradient columns belong to: two tensors, of 3 and 4 elements.
const std::vector<int64_t> kSharedSizes{3, 4};

// Losses between 0.2 and 3, decreasing on the whole, as in training; Gaussian task gradients (times
// `scale`); the losses after the update 0.7 to 1.05 times the step's.
std::vector<Step> randomSteps(uint32_t seed, int count, const std::function<int64_t(int)>& epochOf = [](int) { return 0; },
                              double scale = 1) {
  Draws draws(seed);
  std::vector<Step> steps;
  for (int i = 0; i < count; ++i) {
    Step step;
    for (int64_t t = 0; t < kTasks; ++t) step.losses.push_back(static_cast<float>((0.2 + 2.8 * draws.uniform(0, 1)) * (1.0 - i / (2.0 * count))));
    for (int64_t t = 0; t < kTasks; ++t) {
      std::vector<double> row;
      for (int64_t p = 0; p < kParameters; ++p) row.push_back(draws.gaussian() * scale);
      step.grads.push_back(row);
    }
    for (double l : step.losses) step.after.push_back(static_cast<float>(l * (0.7 + 0.35 * draws.uniform(0, 1))));
    step.epoch = epochOf(i);
    steps.push_back(step);
  }
  return steps;
}

std::vector<Case> cases() {
  return {
      {"equal", {{"kind", "equal"}}, randomSteps(1, 2)},
      {"fixed", {{"kind", "fixed"}, {"lambdas", {{"a", 0.5}, {"b", 2}, {"c", 1}}}}, randomSteps(2, 2)},
      {"sigmoidLoss", {{"kind", "sigmoidLoss"}}, randomSteps(3, 3)},
      {"uncertainty", {{"kind", "uncertainty"}, {"lr", 0.05}}, randomSteps(4, 20)},
      // The start of the authors' MTAN code and LibMTL.
      {"uncertaintyAsLibMtl", {{"kind", "uncertainty"}, {"lr", 0.05}, {"initialLogVariance", -0.5}}, randomSteps(14, 5)},
      {"dwa", {{"kind", "dwa"}, {"temperature", 2}}, randomSteps(5, 9, [](int i) { return i / 2; })},
      // A window of 2 steps: periods are steps / 2, so the reference sees them as its epochs.
      {"dwaWindow", {{"kind", "dwa"}, {"temperature", 2}, {"window", 2}}, randomSteps(15, 9, [](int i) { return i / 2; })},
      {"gradNorm", {{"kind", "gradNorm"}, {"alpha", 1.5}, {"lr", 0.05}}, randomSteps(6, 20)},
      {"pcgrad", {{"kind", "pcgrad"}}, randomSteps(7, 4)},
      {"cagrad", {{"kind", "cagrad"}, {"c", 0.4}}, randomSteps(8, 3)},
      {"famo", {{"kind", "famo"}, {"lr", 0.025}, {"gamma", 0.001}}, randomSteps(9, 20)},
      {"famoConsecutive", {{"kind", "famo"}, {"lr", 0.025}, {"gamma", 0.001}, {"update", "consecutiveSteps"}}, randomSteps(19, 20)},
      // ‖GGᵀ‖ far from 1 (where solving on the normalised Gram would give √‖GGᵀ‖ times the authors'
      // α), with and without the authors' clip of the shared gradient to norm 1.
      {"nashMtl", {{"kind", "nashMtl"}}, randomSteps(10, 3, [](int) { return 0; }, 20)},
      {"nashMtlSmall", {{"kind", "nashMtl"}, {"maxNorm", 0}}, randomSteps(20, 3, [](int) { return 0; }, 0.05)},
      {"nashMtlNoClip", {{"kind", "nashMtl"}, {"maxNorm", 0}}, randomSteps(12, 3, [](int) { return 0; }, 20)},
      // Auxiliary mode: main-task-aware methods, with one or two main tasks.
      {"gcs", {{"kind", "gcs"}}, randomSteps(30, 8), {"a"}},
      {"gcsWeighted", {{"kind", "gcs"}, {"weighted", true}}, randomSteps(31, 8), {"a"}},
      {"gcsTwoMain", {{"kind", "gcs"}}, randomSteps(32, 6), {"a", "c"}},
      {"oneSidedProjection", {{"kind", "oneSidedProjection"}}, randomSteps(33, 8), {"b"}},
      {"oneSidedTwoMain", {{"kind", "oneSidedProjection"}}, randomSteps(34, 6), {"a", "b"}},
      {"metaBalance", {{"kind", "metaBalance"}}, randomSteps(35, 8), {"a"}},
      {"metaBalanceFull", {{"kind", "metaBalance"}, {"relax", 1.0}, {"beta", 0.5}}, randomSteps(36, 6), {"c"}},
      {"olAux", {{"kind", "olAux"}, {"lr", 0.05}, {"horizon", 2}}, randomSteps(37, 9), {"a"}},
  };
}

constexpr uint64_t kPcgradSeed = 11;

struct Outcome {
  std::vector<double> lambdas, combined, params;
};

// The reference's view of a case: its method name and config (the DWA window as epochs).
nlohmann::json referenceCase(const Case& c) {
  nlohmann::json config = c.options;
  config.erase("kind");
  config.erase("window");
  config["taskNames"] = kNames;
  config["seed"] = kPcgradSeed;
  config["main"] = c.main;
  config["sharedSizes"] = kSharedSizes;
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : c.steps) steps.push_back({{"losses", s.losses}, {"grads", s.grads}, {"epoch", s.epoch}, {"after", s.after}});
  return {{"name", c.name}, {"method", c.options.at("kind")}, {"config", config}, {"tasks", kTasks}, {"steps", steps}};
}

std::vector<Outcome> runNative(const Case& c) {
  auto method = train::makeWeighting(c.options, {kNames, kPcgradSeed, c.main, kSharedSizes});
  const bool needsGradients = method->capabilities().gradients != train::GradientNeed::None;
  std::vector<Outcome> out;
  for (size_t index = 0; index < c.steps.size(); ++index) {
    const Step& step = c.steps[index];
    std::vector<at::Tensor> losses;
    for (double l : step.losses) losses.push_back(at::scalar_tensor(l, at::kFloat).requires_grad_());
    std::vector<float> flat;
    for (const auto& row : step.grads) flat.insert(flat.end(), row.begin(), row.end());
    const at::Tensor grads = at::tensor(flat, at::kFloat).view({kTasks, kParameters});
    const train::StepContext context{static_cast<int64_t>(index), step.epoch};
    const train::Combination result =
        method->combine({0, 1, 2}, losses, step.losses, needsGradients ? grads : at::Tensor(), context);
    Outcome outcome;
    outcome.lambdas = result.lambdas;
    if (result.sharedGradient.defined()) {
      const at::Tensor g = result.sharedGradient.to(at::kDouble).contiguous();
      outcome.combined.assign(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
    } else {
      // The objective's gradient with respect to each loss is the weight it really applies.
      result.objective.backward();
      std::vector<double> applied;
      for (const auto& l : losses) applied.push_back(l.grad().item<double>());
      EXPECT_TRUE(close(applied, result.lambdas, 1e-5, 1e-7)) << c.name << " step " << index << ": ∂objective/∂L vs the reported λ";
      for (int64_t p = 0; p < kParameters; ++p) {
        double sum = 0;
        for (int64_t t = 0; t < kTasks; ++t) sum += applied[t] * step.grads[t][p];
        outcome.combined.push_back(sum);
      }
    }
    method->afterBackward();
    if (method->wantsLossesAfterStep()) method->afterStep(step.after);
    const auto parameters = method->parameters();
    if (!parameters.empty()) {
      const at::Tensor p = parameters[0].detach().to(at::kDouble).contiguous();
      outcome.params.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    }
    out.push_back(outcome);
  }
  return out;
}

class WeightingReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = temporaryDirectory("mtl-weighting-");
    nlohmann::json all = nlohmann::json::array();
    for (const auto& c : cases()) all.push_back(referenceCase(c));
    writeJson(dir / "in.json", {{"cases", all}});
    runOracle("weighting.py", {(dir / "in.json").string(), (dir / "out.json").string()});
    reference_ = new nlohmann::json(readJson(dir / "out.json"));
  }
  static std::vector<double> values(const nlohmann::json& j) { return j.is_null() ? std::vector<double>{} : j.get<std::vector<double>>(); }
  static nlohmann::json* reference_;
};
nlohmann::json* WeightingReference::reference_ = nullptr;

TEST_F(WeightingReference, EveryMethodMatchesItsPaperFormula) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const auto ours = runNative(c);
    const auto& theirs = reference_->at(c.name);
    ASSERT_EQ(ours.size(), theirs.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      SCOPED_TRACE("step " + std::to_string(i));
      EXPECT_TRUE(close(ours[i].lambdas, values(theirs[i]["lambdas"]), 1e-5, 1e-7)) << "λ";
      EXPECT_TRUE(close(ours[i].combined, values(theirs[i]["combined"]), 1e-5, 1e-5)) << "combined gradient";
      if (!theirs[i]["params"].is_null()) {
        EXPECT_TRUE(close(ours[i].params, values(theirs[i]["params"]), 1e-5, 1e-6)) << "learned parameters";
      }
    }
  }
}

TEST_F(WeightingReference, DwaAdaptsFromTheThirdPeriod) {
  for (const char* name : {"dwa", "dwaWindow"}) {
    const auto& steps = reference_->at(name);
    // Periods 0 and 1 are steps 0–3: no ratio yet, every λ is 1.
    for (int i = 0; i < 4; ++i) {
      for (double l : values(steps[i]["lambdas"])) EXPECT_EQ(l, 1.0) << name << " step " << i;
    }
    const auto third = values(steps[4]["lambdas"]);
    EXPECT_TRUE(std::any_of(third.begin(), third.end(), [](double l) { return l != 1.0; })) << name;
    EXPECT_NEAR(third[0] + third[1] + third[2], static_cast<double>(kTasks), 1e-10) << name;
  }
}

TEST(Weighting, DwaWithAWindowMovesWithinOneEpoch) {
  // All steps in epoch 0: per epoch DWA stays at λ = 1, a 3-step window adapts after 6 steps.
  Case perEpoch{"perEpoch", {{"kind", "dwa"}}, randomSteps(21, 9)};
  Case windowed{"windowed", {{"kind", "dwa"}, {"window", 3}}, randomSteps(21, 9)};
  for (const auto& outcome : runNative(perEpoch)) {
    for (double l : outcome.lambdas) EXPECT_EQ(l, 1.0);
  }
  const auto moved = runNative(windowed).back().lambdas;
  EXPECT_TRUE(std::any_of(moved.begin(), moved.end(), [](double l) { return std::fabs(l - 1.0) > 1e-3; }));
}

TEST(Weighting, LearnedMethodsMoveTheirParameters) {
  for (const auto& c : cases()) {
    if (c.name != "uncertainty" && c.name != "gradNorm" && c.name != "famo" && c.name != "famoConsecutive") continue;
    const auto outcomes = runNative(c);
    EXPECT_FALSE(close(outcomes.back().params, outcomes.front().params, 0, 1e-6)) << c.name;
  }
}

TEST(Weighting, RefusesUnknownKindsAndMissingLambdas) {
  EXPECT_THROW(
      {
        try {
          train::makeWeighting({{"kind", "magic"}}, {kNames, 0});
        } catch (const std::invalid_argument& e) {
          EXPECT_STREQ(e.what(), "weighting: unknown kind 'magic'");
          throw;
        }
      },
      std::invalid_argument);
  EXPECT_THROW(train::makeWeighting({{"kind", "fixed"}, {"lambdas", {{"a", 1}}}}, {kNames, 0}), std::invalid_argument);
}

TEST_F(WeightingReference, AuxiliaryMethodsActOnlyWhereTheirRuleSaysSo) {
  // Over the cases' steps, GCS drops some auxiliary gradients and keeps others, the one-sided
  // projection changes the sum only on conflicting steps, OL-AUX moves its weights: none is a no-op.
  auto lambdasOf = [&](const char* name) {
    std::vector<double> all;
    for (const auto& step : reference_->at(name)) {
      for (double l : values(step["lambdas"])) all.push_back(l);
    }
    return all;
  };
  const auto gcs = lambdasOf("gcs");
  EXPECT_TRUE(std::count(gcs.begin(), gcs.end(), 0.0) > 0 && std::count(gcs.begin(), gcs.end(), 1.0) > static_cast<long>(gcs.size() / 3));
  const auto olAux = lambdasOf("olAux");
  EXPECT_TRUE(std::any_of(olAux.begin(), olAux.end(), [](double l) { return std::fabs(l - 1.0) > 1e-3; }));
  const auto balance = lambdasOf("metaBalance");
  EXPECT_TRUE(std::any_of(balance.begin(), balance.end(), [](double l) { return std::fabs(l - 1.0) > 1e-3; }));
  // One-sided projection: where an auxiliary gradient conflicts with the main one, the combined
  // gradient differs from the plain sum; its component along the main gradient is never below ‖gₘ‖².
  int conflicting = 0;
  for (const auto& c : cases()) {
    if (c.name != "oneSidedProjection") continue;
    const auto& theirs = reference_->at(c.name);
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const auto& g = c.steps[i].grads;
      const auto combined = values(theirs[i]["combined"]);
      double along = 0, mainNorm = 0, plainAlong = 0;
      for (int64_t p = 0; p < kParameters; ++p) {
        along += combined[p] * g[1][p];
        mainNorm += g[1][p] * g[1][p];
        plainAlong += (g[0][p] + g[1][p] + g[2][p]) * g[1][p];
      }
      EXPECT_GE(along, mainNorm - 1e-9) << "step " << i;
      if (plainAlong < mainNorm - 1e-9) ++conflicting;
    }
  }
  EXPECT_GT(conflicting, 0);
}

TEST(Weighting, AStepThatEndsEarlyLeavesNothingForTheNext) {
  // A step skipped after its combine (NaN loss, fp16 overflow) never reaches afterBackward/afterStep;
  // beginStep() at the next step drops what it gathered: the next step updates as a fresh method would.
  const auto steps = randomSteps(41, 2);
  const at::Tensor grads = at::randn({kTasks, kParameters}, at::kFloat);
  for (const nlohmann::json& options : {nlohmann::json{{"kind", "famo"}}, nlohmann::json{{"kind", "uncertainty"}},
                                        nlohmann::json{{"kind", "olAux"}, {"horizon", 1}}}) {
    auto interrupted = train::makeWeighting(options, {kNames, 0, {"a"}, kSharedSizes});
    auto fresh = train::makeWeighting(options, {kNames, 0, {"a"}, kSharedSizes});
    const bool needsGradients = interrupted->capabilities().gradients != train::GradientNeed::None;
    auto losses = [&](const Step& step) {
      std::vector<at::Tensor> out;
      for (double l : step.losses) out.push_back(at::scalar_tensor(l, at::kFloat));
      return out;
    };
    interrupted->beginStep();
    interrupted->combine({0, 1, 2}, losses(steps[0]), steps[0].losses, needsGradients ? grads * 5 : at::Tensor(), {});
    for (auto* method : {interrupted.get(), fresh.get()}) {
      method->beginStep();
      method->combine({0, 1, 2}, losses(steps[1]), steps[1].losses, needsGradients ? grads : at::Tensor(), {1, 0});
      method->afterBackward();
      if (method->wantsLossesAfterStep()) method->afterStep(steps[1].after);
    }
    const auto next = [&](train::LossWeighting& method) {
      return method.combine({0, 1, 2}, losses(steps[1]), steps[1].losses, needsGradients ? grads : at::Tensor(), {2, 0}).lambdas;
    };
    EXPECT_EQ(next(*interrupted), next(*fresh)) << options.dump();
  }
}

TEST(Weighting, MainAwareMethodsNeedMainAndAnAuxiliaryTask) {
  for (const char* kind : {"gcs", "oneSidedProjection", "metaBalance", "olAux"}) {
    EXPECT_THROW(train::makeWeighting({{"kind", kind}}, {kNames, 0, {}, kSharedSizes}), std::invalid_argument) << kind;
    EXPECT_THROW(train::makeWeighting({{"kind", kind}}, {kNames, 0, kNames, kSharedSizes}), std::invalid_argument) << kind;
  }
}

TEST(Weighting, RegistryReportsEveryMethodWithItsDefaultsAndCapabilities) {
  const auto described = describeRegistry<train::WeightingEntry>();
  EXPECT_EQ(described.size(), 14u);
  EXPECT_TRUE(described.at("gcs").at("capabilities").at("usesMain").get<bool>());
  EXPECT_FALSE(described.at("pcgrad").at("capabilities").at("usesMain").get<bool>());
  EXPECT_EQ(described.at("nashMtl").at("defaults").at("maxNorm"), 1.0);
  EXPECT_EQ(described.at("uncertainty").at("defaults").at("initialLogVariance"), 0.0);
  EXPECT_EQ(described.at("famo").at("defaults").at("update"), "sameBatch");
  EXPECT_EQ(described.at("dwa").at("defaults").at("temperature"), 2.0);
  EXPECT_EQ(described.at("dwa").at("defaults").at("window"), 0);
  EXPECT_EQ(described.at("pcgrad").at("capabilities").at("gradients"), "shared");
  EXPECT_EQ(described.at("gradNorm").at("capabilities").at("gradients"), "lastShared");
  EXPECT_TRUE(described.at("famo").at("capabilities").at("needsAllTasksEachStep").get<bool>());
  EXPECT_FALSE(described.at("uncertainty").at("capabilities").at("needsAllTasksEachStep").get<bool>());
}

}  // namespace
}  // namespace mtl::testing
