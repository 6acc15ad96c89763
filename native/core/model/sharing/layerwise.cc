// layerwise({ sharedLayers: k }): the first k encoder layers are shared (the model's `encoder`,
// run once), the remaining numLayers - k are the task's own (layerwise.<task>.layers.j, j from 0).
#include "core/model/head.h"
#include "core/model/sharing.h"

namespace mtl::model {
namespace {

struct LayerwiseOptions {
  int64_t sharedLayers = 1;  // in [1, encoder.numLayers]
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LayerwiseOptions, sharedLayers)

class LayerwiseSchemeImpl : public SharingSchemeImpl {
 public:
  LayerwiseSchemeImpl(const ModelConfig& config, const LayerwiseOptions& options) : SharingSchemeImpl(config), options_(options) {}
  const char* name() const override { return "layerwise"; }
  int64_t sharedEncoderLayers() const override { return options_.sharedLayers; }
  void removeTask(const std::string& task) override {
    if (taskEncoders_.erase(task) > 0) unregister_module(task);
  }
  void addTask(const std::string& task) override {
    const int64_t own = config_.encoder.numLayers - options_.sharedLayers;
    if (own > 0) {
      taskEncoders_[task] = register_module(task, nn::TransformerEncoder(nn::TransformerStackOptions(layerOptions(config_.encoder), own)));
    }
  }
  std::map<std::string, int64_t> encoderLayerCopies() const override {
    std::map<std::string, int64_t> copies;
    for (const auto& [task, encoder] : taskEncoders_) {
      for (size_t j = 0; j < encoder->layers->size(); ++j) {
        copies[task + ".layers." + std::to_string(j)] = options_.sharedLayers + static_cast<int64_t>(j);
      }
    }
    return copies;
  }
  std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                           const std::vector<std::string>& tasks) override {
    const at::Tensor common = shared.run(x, paddingMask);
    std::map<std::string, at::Tensor> out;
    for (const auto& task : tasks) {
      auto own = taskEncoders_.find(task);
      out[task] = own == taskEncoders_.end() ? common : own->second->forward(common, {}, paddingMask);
    }
    return out;
  }

 private:
  LayerwiseOptions options_;
  std::map<std::string, std::shared_ptr<nn::TransformerEncoderImpl>> taskEncoders_;
};

const RegisterSharing<LayerwiseOptions> registered(
    "layerwise", SharingCapabilities{/*encodesOncePerBatch*/ true, /*exportable*/ true, /*adapters*/ false, /*perTaskLayers*/ true},
    [](const LayerwiseOptions& options, const ModelConfig& config) { return std::make_shared<LayerwiseSchemeImpl>(config, options); });

}  // namespace
}  // namespace mtl::model
