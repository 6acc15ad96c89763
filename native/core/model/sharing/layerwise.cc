// layerwise({ sharedLayers: k }): the first k encoder layers are shared (the model's `encoder`,
// run once), the remaining numLayers - k are the task's own (layerwise.<task>.layers.j, j from 0).
#include "core/model/head.h"
#include "core/model/sharing.h"

namespace mtl::model {
namespace {

class LayerwiseSchemeImpl : public SharingSchemeImpl {
 public:
  using SharingSchemeImpl::SharingSchemeImpl;
  const char* name() const override { return "layerwise"; }
  int64_t sharedEncoderLayers() const override { return config_.sharing.sharedLayers; }
  void addTask(const std::string& task) override {
    const int64_t own = config_.encoder.numLayers - config_.sharing.sharedLayers;
    if (own > 0) {
      taskEncoders_[task] =
          register_module(task, nn::TransformerEncoder(nn::TransformerStackOptions(layerOptions(config_.encoder), own)));
    }
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
  std::map<std::string, std::shared_ptr<nn::TransformerEncoderImpl>> taskEncoders_;
};

}  // namespace

std::shared_ptr<SharingSchemeImpl> makeLayerwiseScheme(const ModelConfig& config) {
  return std::make_shared<LayerwiseSchemeImpl>(config);
}

}  // namespace mtl::model
