// Task samplers and strategies (native/core/train/sampler, strategy): empirical task frequencies
// over 10k draws match the formulas; round robin's order is exact; a seed fixes the draws; the
// joint strategy shares a step's examples out by the sampler's distribution; the streams of a fit
// restore their positions and refuse positions the data cannot have.
#include "core/train/data_streams.h"
#include "core/train/sampler/sampler.h"
#include "core/train/strategy/strategy.h"
#include "support.h"

namespace mtl::testing {
namespace {

const std::vector<int64_t> kSizes{1000, 250, 40, 10};
constexpr int kDraws = 10000;

std::vector<double> frequencies(train::TaskSampler& sampler) {
  std::vector<double> counts(kSizes.size(), 0);
  for (int i = 0; i < kDraws; ++i) counts[sampler.next()] += 1;
  for (double& c : counts) c /= kDraws;
  return counts;
}

void expectFrequencies(const nlohmann::json& options, const std::vector<double>& expected) {
  auto sampler = train::makeSampler(options, {kSizes, 7});
  EXPECT_TRUE(close(sampler->probabilities(), expected, 1e-12, 1e-12)) << options.dump();
  const auto observed = frequencies(*sampler);
  for (size_t i = 0; i < expected.size(); ++i) {
    // 4.5 standard errors of a binomial proportion: a false failure about once in 150 000 runs.
    const double sigma = std::sqrt(expected[i] * (1 - expected[i]) / kDraws);
    EXPECT_LE(std::fabs(observed[i] - expected[i]), 4.5 * sigma + 1e-12) << options.dump() << " task " << i;
  }
}

std::vector<double> tempered(double temperature) {
  std::vector<double> weights;
  double total = 0;
  for (int64_t n : kSizes) total += weights.emplace_back(std::pow(static_cast<double>(n), 1.0 / temperature));
  for (double& w : weights) w /= total;
  return weights;
}

TEST(Sampler, ProportionalTemperatureAndUniformFollowTheirFormulas) {
  expectFrequencies({{"kind", "proportional"}}, tempered(1));
  for (double t : {2.0, 3.0, 0.5}) expectFrequencies({{"kind", "temperature"}, {"temperature", t}}, tempered(t));
  expectFrequencies({{"kind", "uniform"}}, std::vector<double>(kSizes.size(), 0.25));
}

TEST(Sampler, TemperatureDefaultsToTwo) {
  auto sampler = train::makeSampler({{"kind", "temperature"}}, {kSizes, 0});
  EXPECT_TRUE(close(sampler->probabilities(), tempered(2), 1e-12, 0));
}

TEST(Sampler, RoundRobinVisitsTasksInOrder) {
  auto sampler = train::makeSampler({{"kind", "roundRobin"}}, {kSizes, 0});
  std::vector<int64_t> draws;
  for (int i = 0; i < 10; ++i) draws.push_back(sampler->next());
  EXPECT_EQ(draws, (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1}));
  EXPECT_TRUE(sampler->probabilities().empty());
}

TEST(Sampler, TheSeedFixesTheDraws) {
  const nlohmann::json options{{"kind", "temperature"}, {"temperature", 2}};
  auto draw = [&](uint64_t seed) {
    auto sampler = train::makeSampler(options, {kSizes, seed});
    std::vector<int64_t> out;
    for (int i = 0; i < 200; ++i) out.push_back(sampler->next());
    return out;
  };
  EXPECT_EQ(draw(3), draw(3));
  EXPECT_NE(draw(3), draw(4));
}

TEST(Sampler, StateRoundTripsThroughACheckpoint) {
  auto a = train::makeSampler({{"kind", "uniform"}}, {kSizes, 5});
  for (int i = 0; i < 17; ++i) a->next();
  train::State state;
  a->saveState(state, "sampler.");
  auto b = train::makeSampler({{"kind", "uniform"}}, {kSizes, 99});
  b->loadState(state, "sampler.");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a->next(), b->next());
}

train::PlanSetup setup(const std::vector<int64_t>& sizes, int64_t batchSize, train::TaskSampler* sampler) {
  std::vector<std::string> names;
  for (size_t i = 0; i < sizes.size(); ++i) names.push_back("t" + std::to_string(i));
  return {names, sizes, batchSize, sampler};
}

TEST(Strategy, JointWithoutASamplerGivesEveryTaskABatch) {
  auto joint = train::makeStrategy({{"kind", "joint"}}, setup({1000, 100}, 32, nullptr));
  const auto plan = joint->plan(0);
  EXPECT_EQ(plan.tasks, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(plan.rows, (std::vector<int64_t>{32, 32}));
  EXPECT_EQ(joint->stepsPerEpoch(), 32);  // ⌈1000 / 32⌉
}

TEST(Strategy, JointSharesAStepsExamplesByTheSamplersDistribution) {
  const std::vector<int64_t> sizes{900, 100};
  auto proportional = train::makeSampler({{"kind", "proportional"}}, {sizes, 0});
  auto plan = train::makeStrategy({{"kind", "joint"}}, setup(sizes, 32, proportional.get()))->plan(0);
  EXPECT_EQ(plan.rows, (std::vector<int64_t>{58, 6}));  // 64 · (0.9, 0.1), largest remainder
  auto temperature = train::makeSampler({{"kind", "temperature"}, {"temperature", 2}}, {sizes, 0});
  plan = train::makeStrategy({{"kind", "joint"}}, setup(sizes, 32, temperature.get()))->plan(0);
  EXPECT_EQ(plan.rows, (std::vector<int64_t>{48, 16}));  // 64 · (30, 10) / 40
  auto uniform = train::makeSampler({{"kind", "uniform"}}, {sizes, 0});
  plan = train::makeStrategy({{"kind", "joint"}}, setup(sizes, 32, uniform.get()))->plan(0);
  EXPECT_EQ(plan.rows, (std::vector<int64_t>{32, 32}));
}

TEST(Strategy, JointGivesEveryTaskAtLeastOneExample) {
  const std::vector<int64_t> sizes{100000, 1};
  auto proportional = train::makeSampler({{"kind", "proportional"}}, {sizes, 0});
  const auto plan = train::makeStrategy({{"kind", "joint"}}, setup(sizes, 4, proportional.get()))->plan(0);
  EXPECT_EQ(plan.rows, (std::vector<int64_t>{8, 1}));
}

TEST(Strategy, AlternatingDrawsOneTaskPerStepOrPerEpoch) {
  auto sampler = train::makeSampler({{"kind", "roundRobin"}}, {{64, 64}, 0});
  auto perStep = train::makeStrategy({{"kind", "alternating"}}, setup({64, 64}, 32, sampler.get()));
  EXPECT_EQ(perStep->stepsPerEpoch(), 4);
  std::vector<int64_t> tasks;
  for (int s = 0; s < 4; ++s) tasks.push_back(perStep->plan(s).tasks.at(0));
  EXPECT_EQ(tasks, (std::vector<int64_t>{0, 1, 0, 1}));
  auto sampler2 = train::makeSampler({{"kind", "roundRobin"}}, {{64, 64}, 0});
  auto perEpoch = train::makeStrategy({{"kind", "alternating"}, {"every", "epoch"}}, setup({64, 64}, 32, sampler2.get()));
  tasks.clear();
  for (int s = 0; s < 6; ++s) tasks.push_back(perEpoch->plan(s).tasks.at(0));
  EXPECT_EQ(tasks, (std::vector<int64_t>{0, 0, 1, 1, 0, 0}));
}

TEST(Strategy, ProgressiveRampsTheAuxiliaryTasksIn) {
  auto progressive = train::makeStrategy({{"kind", "progressive"}, {"main", "t1"}, {"warmupSteps", 2}, {"rampSteps", 4}},
                                         setup({10, 10, 10}, 5, nullptr));
  EXPECT_EQ(progressive->plan(0).tasks, (std::vector<int64_t>{1}));
  const auto ramping = progressive->plan(3);
  EXPECT_EQ(ramping.tasks, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(close(ramping.scales, {0.25, 1, 0.25}, 0, 1e-15));
  EXPECT_TRUE(close(progressive->plan(9).scales, {1, 1, 1}, 0, 0));
}

TEST(Strategy, CapabilitiesSayWhatEachDoesWithASampler) {
  EXPECT_EQ(train::strategyCapabilities({{"kind", "joint"}}).sampler, "optional");
  EXPECT_EQ(train::strategyCapabilities({{"kind", "alternating"}}).defaultSampler, "proportional");
  EXPECT_EQ(train::strategyCapabilities({{"kind", "progressive"}}).sampler, "none");
  EXPECT_TRUE(train::strategyCapabilities({{"kind", "joint"}}).everyTaskEachStep);
}

std::shared_ptr<const data::Dataset> classes(int64_t n) {
  data::DatasetTensors t;
  t.inputIds = at::ones({n, 3}, at::kLong);
  t.lengths = at::full({n}, 3, at::kLong);
  t.targets = at::zeros({n}, at::kLong);
  return std::make_shared<data::Dataset>(t, "classification", data::TargetLayout{at::kLong, 1, data::TargetLayout::Trim::None}, 0, 0);
}

TEST(Streams, ABatchNeverSpansTwoPassesAndResumesWhereItStopped) {
  train::TaskStreams streams({"a"}, {classes(10)}, 3);
  std::vector<int64_t> sizes;
  for (int i = 0; i < 3; ++i) sizes.push_back(streams.next({0}, {4}).at("a").indices.numel());
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
  train::State state;
  streams.saveState(state, "data.");
  train::TaskStreams resumed({"a"}, {classes(10)}, 3);
  resumed.loadState(state, "data.");
  EXPECT_TRUE(streams.next({0}, {4}).at("a").indices.equal(resumed.next({0}, {4}).at("a").indices));
}

TEST(Streams, RefusesPositionsTheDataCannotHave) {
  train::TaskStreams streams({"a"}, {classes(10)}, 3);
  train::State state;
  train::putInt(state, "data.a.pass", 0);
  train::putInt(state, "data.a.position", -1);
  EXPECT_THROW(streams.loadState(state, "data."), std::invalid_argument);
  train::putInt(state, "data.a.position", 11);
  EXPECT_THROW(streams.loadState(state, "data."), std::invalid_argument);
  train::putInt(state, "data.a.position", 2);
  train::putDouble(state, "data.a.pass", 1.5);
  EXPECT_THROW(streams.loadState(state, "data."), std::invalid_argument);  // not an int64 scalar
}

}  // namespace
}  // namespace mtl::testing
