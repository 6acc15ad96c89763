// adapters({ reduction, placement, freezeBackbone }): bottleneck adapters (Houlsby 2019) per task
// inside every encoder layer: adapter(h) = h + up(relu(down(h))), with down E -> E / reduction
// and up zero-initialised (an adapter starts as the identity). "houlsby" places one after the
// attention and one after the feed-forward sub-block (before each residual connection);
// "pfeiffer" only the one after the feed-forward. Parameters:
// adapters.<task>.layers.<i>.{attention,feed_forward}.{down,up}.{weight,bias}.
// The encoder runs once per task, since every layer's output depends on the task.
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>

#include "core/model/sharing.h"

namespace mtl::model {
namespace {

struct BottleneckImpl : torch::nn::Module {
  BottleneckImpl(int64_t dModel, int64_t bottleneck) {
    down = register_module("down", torch::nn::Linear(dModel, bottleneck));
    up = register_module("up", torch::nn::Linear(bottleneck, dModel));
    up->weight.data().zero_();
    up->bias.data().zero_();
  }
  at::Tensor forward(const at::Tensor& h) { return h + up(at::relu(down(h))); }
  torch::nn::Linear down{nullptr}, up{nullptr};
};
TORCH_MODULE(Bottleneck);

struct LayerAdaptersImpl : torch::nn::Module {
  LayerAdaptersImpl(int64_t dModel, int64_t bottleneck, bool afterAttention) {
    if (afterAttention) attention = register_module("attention", Bottleneck(dModel, bottleneck));
    feedForward = register_module("feed_forward", Bottleneck(dModel, bottleneck));
  }
  Bottleneck attention{nullptr}, feedForward{nullptr};
};
TORCH_MODULE(LayerAdapters);

struct AdaptersOptions {
  int64_t reduction = 8;              // bottleneck = dModel / reduction
  std::string placement = "houlsby";  // houlsby (after attention and FFN) | pfeiffer (after FFN)
  bool freezeBackbone = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AdaptersOptions, reduction, placement, freezeBackbone)

struct TaskAdaptersImpl : torch::nn::Module {
  TaskAdaptersImpl(const ModelConfig& config, const AdaptersOptions& options) {
    layers = register_module("layers", torch::nn::ModuleList());
    const int64_t bottleneck = config.encoder.dModel / options.reduction;
    for (int64_t i = 0; i < config.encoder.numLayers; ++i) {
      layers->push_back(LayerAdapters(config.encoder.dModel, bottleneck, options.placement == "houlsby"));
    }
  }
  torch::nn::ModuleList layers{nullptr};
};

class AdaptersSchemeImpl : public SharingSchemeImpl {
 public:
  AdaptersSchemeImpl(const ModelConfig& config, const AdaptersOptions& options) : SharingSchemeImpl(config), options_(options) {}
  const char* name() const override { return "adapters"; }
  bool freezesBackbone() const override { return options_.freezeBackbone; }
  void removeTask(const std::string& task) override {
    if (tasks_.erase(task) > 0) unregister_module(task);
  }
  void addTask(const std::string& task) override {
    tasks_[task] = register_module(task, std::make_shared<TaskAdaptersImpl>(config_, options_));
  }
  std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                           const std::vector<std::string>& tasks) override {
    std::map<std::string, at::Tensor> out;
    for (const auto& task : tasks) {
      ++shared.runs;
      at::Tensor h = x;
      auto& adapters = *tasks_.at(task)->layers;
      for (size_t i = 0; i < shared.encoder.layers->size(); ++i) {
        auto& layer = *adapters.ptr<LayerAdaptersImpl>(i);
        SubBlockHooks hooks;
        if (layer.attention) hooks.afterAttention = [&](const at::Tensor& t) { return layer.attention(t); };
        hooks.afterFeedForward = [&](const at::Tensor& t) { return layer.feedForward(t); };
        h = encoderLayerWithHooks(shared.encoder.layer(i), h, paddingMask, hooks);
      }
      out[task] = h;
    }
    return out;
  }

 private:
  AdaptersOptions options_;
  std::map<std::string, std::shared_ptr<TaskAdaptersImpl>> tasks_;
};

const RegisterSharing<AdaptersOptions> registered(
    "adapters", SharingCapabilities{/*encodesOncePerBatch*/ false, /*exportable*/ false, /*adapters*/ true},
    [](const AdaptersOptions& options, const ModelConfig& config) { return std::make_shared<AdaptersSchemeImpl>(config, options); });

}  // namespace
}  // namespace mtl::model
