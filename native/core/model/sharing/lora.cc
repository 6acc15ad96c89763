// lora({ rank, alpha, targets }): per-task low-rank updates (Hu 2021) of the encoder's attention
// projections. For each target t in q, k, v (rows of in_proj_weight) and o (out_proj.weight) the
// task's effective weight is W_t + (alpha / rank) · lora_B @ lora_A, with lora_A (rank, E)
// Kaiming-uniform and lora_B (E, rank) zero (the update starts at zero). Parameters:
// lora.<task>.layers.<i>.<t>.{lora_A,lora_B}.
// The shared layer itself computes the attention: for the task's run, its projection weights are
// replaced by the effective ones (differentiable in W, A and B) and restored afterwards, so no
// attention code is duplicated. The encoder runs once per task.
#include <torch/nn/init.h>
#include <torch/nn/modules/container/modulelist.h>

#include <cmath>

#include "core/model/sharing.h"

namespace mtl::model {
namespace {

struct LowRankImpl : torch::nn::Module {
  LowRankImpl(int64_t dModel, int64_t rank) {
    a = register_parameter("lora_A", at::empty({rank, dModel}));
    b = register_parameter("lora_B", at::zeros({dModel, rank}));
    torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));
  }
  at::Tensor a, b;
};

struct LayerLoraImpl : torch::nn::Module {
  LayerLoraImpl(int64_t dModel, int64_t rank, const std::vector<std::string>& targets) {
    for (const auto& t : targets) updates[t] = register_module(t, std::make_shared<LowRankImpl>(dModel, rank));
  }
  std::map<std::string, std::shared_ptr<LowRankImpl>> updates;
};

struct LoraOptions {
  int64_t rank = 8;
  double alpha = 16;                           // the update is scaled by alpha / rank
  std::vector<std::string> targets{"q", "v"};  // any of q, k, v, o
  bool freezeBackbone = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LoraOptions, rank, alpha, targets, freezeBackbone)

struct TaskLoraImpl : torch::nn::Module {
  TaskLoraImpl(const ModelConfig& config, const LoraOptions& options) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.encoder.numLayers; ++i) {
      layers->push_back(std::make_shared<LayerLoraImpl>(config.encoder.dModel, options.rank, options.targets));
    }
  }
  torch::nn::ModuleList layers{nullptr};
};

// Swaps an attention block's projection weights for a task's effective ones while alive.
class EffectiveWeights {
 public:
  EffectiveWeights(nn::MultiheadAttentionImpl& attention, const LayerLoraImpl& lora, double scale)
      : attention_(attention), inProj_(attention.inProjWeight), outProj_(attention.outProj->weight) {
    const int64_t e = attention.options.embedDim();
    std::vector<at::Tensor> rows;
    bool inChanged = false;
    const char* names[] = {"q", "k", "v"};
    for (int64_t part = 0; part < 3; ++part) {
      at::Tensor w = inProj_.narrow(0, part * e, e);
      auto update = lora.updates.find(names[part]);
      if (update != lora.updates.end()) {
        w = w + scale * at::matmul(update->second->b, update->second->a);
        inChanged = true;
      }
      rows.push_back(w);
    }
    if (inChanged) attention.inProjWeight = at::cat(rows, 0);
    auto out = lora.updates.find("o");
    if (out != lora.updates.end()) attention.outProj->weight = outProj_ + scale * at::matmul(out->second->b, out->second->a);
  }
  ~EffectiveWeights() {
    attention_.inProjWeight = inProj_;
    attention_.outProj->weight = outProj_;
  }
  EffectiveWeights(const EffectiveWeights&) = delete;
  EffectiveWeights& operator=(const EffectiveWeights&) = delete;

 private:
  nn::MultiheadAttentionImpl& attention_;
  at::Tensor inProj_, outProj_;
};

class LoraSchemeImpl : public SharingSchemeImpl {
 public:
  LoraSchemeImpl(const ModelConfig& config, const LoraOptions& options) : SharingSchemeImpl(config), options_(options) {}
  const char* name() const override { return "lora"; }
  bool freezesBackbone() const override { return options_.freezeBackbone; }
  void removeTask(const std::string& task) override {
    if (tasks_.erase(task) > 0) unregister_module(task);
  }
  void addTask(const std::string& task) override {
    tasks_[task] = register_module(task, std::make_shared<TaskLoraImpl>(config_, options_));
  }
  std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                           const std::vector<std::string>& tasks) override {
    const double scale = options_.alpha / static_cast<double>(options_.rank);
    std::map<std::string, at::Tensor> out;
    for (const auto& task : tasks) {
      ++shared.runs;
      at::Tensor h = x;
      auto& lora = *tasks_.at(task)->layers;
      for (size_t i = 0; i < shared.encoder.layers->size(); ++i) {
        auto& layer = shared.encoder.layer(i);
        EffectiveWeights swapped(*layer.selfAttn, *lora.ptr<LayerLoraImpl>(i), scale);
        h = layer.forward(h, {}, paddingMask);
      }
      out[task] = h;
    }
    return out;
  }

 private:
  LoraOptions options_;
  std::map<std::string, std::shared_ptr<TaskLoraImpl>> tasks_;
};

const RegisterSharing<LoraOptions> registered("lora",
                                              SharingCapabilities{/*encodesOncePerBatch*/ false, /*exportable*/ false, /*adapters*/ true},
                                              [](const LoraOptions& options, const ModelConfig& config) {
                                                return std::make_shared<LoraSchemeImpl>(config, options);
                                              });

}  // namespace
}  // namespace mtl::model
