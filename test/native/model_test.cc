// The multi-task model built from the registries: every sharing scheme with every head kind
// constructs from the JSON lib/model validates, and each part reads its own options.
#include "core/model/multitask_model.h"
#include "support.h"

namespace mtl::testing {
namespace {

nlohmann::json spec(const nlohmann::json& sharing) {
  return {{"input", {{"vocabSize", 12}, {"maxLength", 8}, {"padId", 0}, {"features", 0}}},
          {"encoder", {{"numLayers", 2}, {"dModel", 16}, {"nhead", 2}, {"dimFeedforward", 32}, {"dropout", 0.0}, {"activation", "relu"}, {"normFirst", false}}},
          {"sharing", sharing},
          {"tasks",
           {{{"name", "a"}, {"kind", "classification"}, {"classes", 2}, {"decoderLayers", 1}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}},
            {{"name", "g"}, {"kind", "sequence"}, {"vocabSize", 9}, {"maxLength", 4}, {"decoderLayers", 2}, {"bosId", 1}, {"eosId", 2}, {"padId", 0},
             {"labelSmoothing", 0.0}, {"ignoreIndex", -100}},
            {{"name", "t"}, {"kind", "tagging"}, {"classes", 3}, {"labelSmoothing", 0.0}, {"ignoreIndex", -100}}}}};
}

TEST(Model, EverySharingSchemeBuildsWithEveryHead) {
  for (const nlohmann::json& sharing : {nlohmann::json{{"kind", "sharedEncoder"}}, nlohmann::json{{"kind", "fullyShared"}},
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

}  // namespace
}  // namespace mtl::testing
