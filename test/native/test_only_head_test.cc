// Adding a head is one .cc file plus its TypeScript schema line: this file is the .cc of a
// test-only head ("testOnlyMax": the largest encoder state over the real positions, one linear
// layer, MSE), registered here and nowhere else (it lives in the test binary, not the product).
// Nothing in native/ names it, yet the model builds it, the registry publishes it with its
// defaults, capabilities and target layout, a data set holds its targets, and its loss trains and
// evaluates through the model like any shipped head's.
#include <torch/nn/modules/linear.h>

#include "core/model/head.h"
#include "core/model/multitask_model.h"
#include "support.h"

namespace mtl::testing {
namespace {

struct TestOnlyMaxOptions {
  double scale = 1.0;  // multiplies the output
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TestOnlyMaxOptions, scale)

class MaxErrorEvaluator : public model::HeadEvaluator {
 public:
  void add(const at::Tensor& predictions, const data::Batch& batch) override {
    const double error = (predictions.to(at::kDouble) - batch.targets.to(at::kDouble)).abs().max().item<double>();
    worst_ = std::max(worst_, error);
  }
  std::map<std::string, double> metrics() const override { return {{"maxError", worst_}}; }

 private:
  double worst_ = 0;
};

class TestOnlyMaxHead : public model::HeadImpl {
 public:
  TestOnlyMaxHead(const TestOnlyMaxOptions& options, const model::HeadContext& context) : scale_(options.scale) {
    out_ = register_module("out", torch::nn::Linear(context.config.encoder.dModel, 1));
  }
  at::Tensor forward(const model::Encoded& encoded, const data::Batch&) override {
    const at::Tensor masked = encoded.memory.masked_fill(encoded.paddingMask.unsqueeze(-1), -1e9);
    return scale_ * out_->forward(std::get<0>(masked.max(1))).squeeze(-1);
  }
  at::Tensor loss(const at::Tensor& outputs, const data::Batch& batch) override {
    return at::mse_loss(outputs, batch.targets.to(outputs.device(), outputs.scalar_type()));
  }
  at::Tensor predict(const model::Encoded& encoded, const data::Batch& batch) override { return forward(encoded, batch); }
  std::unique_ptr<model::HeadEvaluator> makeEvaluator() const override { return std::make_unique<MaxErrorEvaluator>(); }

 private:
  double scale_;
  torch::nn::Linear out_{nullptr};
};

const model::RegisterHead<TestOnlyMaxOptions> registered(
    "testOnlyMax", model::HeadCapabilities{{{"maxError", "min"}}, "maxError", false},
    [](const TestOnlyMaxOptions& options, const model::HeadContext& context) { return std::make_shared<TestOnlyMaxHead>(options, context); },
    data::TargetLayout{at::kFloat, 1, data::TargetLayout::Trim::None});

model::ModelConfig configWith(const nlohmann::json& task) {
  return model::modelConfigFromJson(
      {{"input", {{"vocabSize", 12}, {"maxLength", 8}, {"padId", 0}, {"features", 0}}},
       {"encoder", {{"numLayers", 1}, {"dModel", 16}, {"nhead", 2}, {"dimFeedforward", 32}, {"dropout", 0.0}, {"activation", "relu"}, {"normFirst", false}}},
       {"sharing", {{"kind", "sharedEncoder"}}},
       {"tasks", {task}}});
}

TEST(TestOnlyHead, TheRegistryPublishesItWithItsDefaultsAndCapabilities) {
  const Options heads = describeRegistry<model::HeadEntry>();
  ASSERT_TRUE(heads.contains("testOnlyMax"));
  EXPECT_EQ(heads["testOnlyMax"]["defaults"]["scale"], 1.0);
  EXPECT_EQ(heads["testOnlyMax"]["capabilities"]["mainMetric"], "maxError");
  EXPECT_EQ(model::targetLayoutOf("testOnlyMax").dtype, at::kFloat);
}

TEST(TestOnlyHead, TheModelBuildsTrainsAndEvaluatesIt) {
  torch::manual_seed(0);
  model::MultiTaskModelImpl model(configWith({{"name", "peak"}, {"kind", "testOnlyMax"}, {"scale", 2.0}}));
  EXPECT_EQ(model.taskKind("peak"), "testOnlyMax");

  data::DatasetTensors tensors;
  tensors.inputIds = at::tensor({3, 4, 5, 0, 6, 7, 0, 0}, at::kLong).reshape({2, 4});
  tensors.lengths = at::tensor({3, 2}, at::kLong);
  tensors.targets = at::tensor({0.5f, -1.0f});
  const data::Dataset set(tensors, "testOnlyMax", model::targetLayoutOf("testOnlyMax"), 0, 0);
  const data::Batch batch = set.batch(at::arange(2));

  // A few plain SGD steps on its loss lower it: gradients reach the head and the encoder.
  std::vector<at::Tensor> parameters = model.parameters();
  auto lossNow = [&] { return model.taskLosses({{"peak", batch}}).at("peak"); };
  const double first = lossNow().item<double>();
  for (int step = 0; step < 20; ++step) {
    for (auto& p : parameters) p.mutable_grad() = at::Tensor();
    lossNow().backward();
    at::NoGradGuard noGrad;
    for (auto& p : parameters) {
      if (p.grad().defined()) p.sub_(0.002 * p.grad());
    }
  }
  const double last = lossNow().item<double>();
  EXPECT_TRUE(std::isfinite(first));
  EXPECT_LT(last, first);

  auto evaluator = model.evaluator("peak");
  {
    at::NoGradGuard noGrad;
    evaluator->add(model.predict("peak", batch), batch);
  }
  const auto metrics = evaluator->metrics();
  ASSERT_EQ(metrics.count("maxError"), 1u);
  EXPECT_GE(metrics.at("maxError"), 0.0);
}

}  // namespace
}  // namespace mtl::testing
