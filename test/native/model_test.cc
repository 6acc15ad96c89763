// The multi-task model built from the registries: every sharing scheme with every head kind
// constructs from the JSON lib/model validates, and each part reads its own options.
#include "core/data/dataset.h"
#include "core/model/multitask_model.h"
#include "core/train/data_streams.h"
#include "support.h"

namespace mtl::testing {
namespace {

nlohmann::json spec(const nlohmann::json& sharing) {
  return {
      {"input", {{"vocabSize", 12}, {"maxLength", 8}, {"padId", 0}, {"features", 0}}},
      {"encoder",
       {{"numLayers", 2},
        {"dModel", 16},
        {"nhead", 2},
        {"dimFeedforward", 32},
        {"dropout", 0.0},
        {"activation", "relu"},
        {"normFirst", false}}},
      {"sharing", sharing},
      {"tasks",
       {{{"name", "a"}, {"kind", "classification"}, {"classes", 2}, {"decoderLayers", 1}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}},
        {{"name", "g"},
         {"kind", "sequence"},
         {"vocabSize", 9},
         {"maxLength", 4},
         {"decoderLayers", 2},
         {"bosId", 1},
         {"eosId", 2},
         {"padId", 0},
         {"labelSmoothing", 0.0},
         {"ignoreIndex", -100}},
        {{"name", "t"}, {"kind", "tagging"}, {"classes", 3}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}}}}};
}

TEST(Model, EverySharingSchemeBuildsWithEveryHead) {
  for (const nlohmann::json& sharing :
       {nlohmann::json{{"kind", "sharedEncoder"}}, nlohmann::json{{"kind", "fullyShared"}},
        nlohmann::json{{"kind", "layerwise"}, {"sharedLayers", 1}},
        nlohmann::json{{"kind", "adapters"}, {"reduction", 4}, {"placement", "houlsby"}, {"freezeBackbone", true}},
        nlohmann::json{{"kind", "lora"}, {"rank", 2}, {"alpha", 4}, {"targets", {"q", "v"}}, {"freezeBackbone", false}},
        nlohmann::json{{"kind", "mmoe"}, {"experts", 2}, {"topK", 0}}}) {
    SCOPED_TRACE(sharing.dump());
    model::MultiTaskModelImpl model(model::modelConfigFromJson(spec(sharing)));
    EXPECT_EQ(model.taskNames(), (std::vector<std::string>{"a", "g", "t"}));
    EXPECT_GT(model.summary().total, 0);
  }
}

TEST(Model, HeadsDeclareTheirDecoderLayers) {
  const auto config = model::modelConfigFromJson(spec({{"kind", "sharedEncoder"}}));
  EXPECT_EQ(model::decoderLayersOf(config.tasks[0]), 1);
  EXPECT_EQ(model::decoderLayersOf(config.tasks[1]), 2);
  EXPECT_EQ(model::decoderLayersOf(config.tasks[2]), 0);
}

// Two classification tasks and a tagging task, all reading one kind of input.
nlohmann::json threeTasks(const nlohmann::json& sharing) {
  nlohmann::json config = spec(sharing);
  config["tasks"] = {
      {{"name", "a"}, {"kind", "classification"}, {"classes", 2}, {"decoderLayers", 1}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}},
      {{"name", "b"}, {"kind", "classification"}, {"classes", 3}, {"decoderLayers", 1}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}},
      {{"name", "t"}, {"kind", "tagging"}, {"classes", 3}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}}};
  return config;
}

data::Batch inputs(int64_t rows) {
  data::Batch batch;
  batch.indices = at::arange(rows, at::kLong);
  batch.inputIds = at::randint(3, 12, {rows, 5}, at::kLong);
  batch.lengths = at::full({rows}, 5, at::kLong);
  return batch;
}

// Encode once, decode many: tasks whose batches hold the very same input tensor go through the
// shared encoder once (a forward, a prediction of several tasks), whatever the scheme.
TEST(Model, TasksOverTheSameInputsRunTheSharedEncoderOnce) {
  for (const nlohmann::json& sharing :
       {nlohmann::json{{"kind", "sharedEncoder"}}, nlohmann::json{{"kind", "layerwise"}, {"sharedLayers", 1}},
        nlohmann::json{{"kind", "mmoe"}, {"experts", 2}, {"topK", 0}}, nlohmann::json{{"kind", "fullyShared"}}}) {
    SCOPED_TRACE(sharing.dump());
    model::MultiTaskModelImpl model(model::modelConfigFromJson(threeTasks(sharing)));
    const data::Batch x = inputs(4);
    const int64_t before = model.sharedEncoderRuns();
    model.forward({{"a", x}, {"b", x}, {"t", x}}, false);
    EXPECT_EQ(model.sharedEncoderRuns() - before, 1);
    data::Batch copy = x;
    copy.inputIds = x.inputIds.clone();  // equal values, another tensor: its own encoder run
    model.forward({{"a", x}, {"b", copy}, {"t", x}}, false);
    EXPECT_EQ(model.sharedEncoderRuns() - before, 3);
    model.predictTasks({"a", "b", "t"}, x, model::GenerateOptions{});
    EXPECT_EQ(model.sharedEncoderRuns() - before, 4);
  }
}

// The trainer's path: data sets sharing inputs (withTargets) draw the same rows each step, as the
// very same tensors, so a step encodes them once; a data set of its own is encoded apart.
TEST(Model, DataSetsSharingInputsAreEncodedOncePerStep) {
  const int64_t n = 12;
  const data::TargetLayout classes{at::kLong, 1, data::TargetLayout::Trim::None};
  data::DatasetTensors tensors;
  tensors.inputIds = at::randint(3, 12, {n, 5}, at::kLong);
  tensors.lengths = at::full({n}, 5, at::kLong);
  tensors.targets = at::randint(0, 2, {n}, at::kLong);
  const auto a = std::make_shared<data::Dataset>(tensors, "classification", classes, 0, 0);
  const auto b = a->withTargets(at::randint(0, 3, {n}, at::kLong), at::Tensor(), "classification", classes, 0);
  data::DatasetTensors own = tensors;
  own.inputIds = tensors.inputIds.clone();
  own.targets = at::randint(0, 3, {n, 5}, at::kLong);
  const auto t =
      std::make_shared<data::Dataset>(own, "tagging", data::TargetLayout{at::kLong, 2, data::TargetLayout::Trim::ToInputs}, 0, 0);
  ASSERT_TRUE(b->sharesInputsWith(*a));
  ASSERT_FALSE(t->sharesInputsWith(*a));

  train::TaskStreams streams({"a", "b", "t"}, {a, b, t}, 3);
  model::MultiTaskModelImpl model(model::modelConfigFromJson(threeTasks({{"kind", "sharedEncoder"}})));
  const int64_t before = model.sharedEncoderRuns();
  for (int step = 0; step < 5; ++step) {
    const auto batches = streams.next({0, 1, 2}, {4, 4, 4});
    EXPECT_TRUE(batches.at("a").indices.equal(batches.at("b").indices));
    EXPECT_TRUE(batches.at("a").inputIds.is_same(batches.at("b").inputIds));
    model.taskLosses(batches);
  }
  EXPECT_EQ(model.sharedEncoderRuns() - before, 5 * 2);
}

}  // namespace
}  // namespace mtl::testing
