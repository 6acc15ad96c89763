// mmoe({ experts, topK }): multi-gate mixture of experts (Ma 2018) on top of the shared encoder.
// `experts` feed-forward experts (mmoe.experts.<e>.{linear1,linear2}) are shared by all tasks;
// each task has a softmax gate over them (mmoe.<task>.gate, Linear(E, experts)) computed per
// position. With topK > 0 only the k largest gate logits of a position are kept (the rest are
// -inf before the softmax). A task's encoding is norm(h + Σ_e gate_e(h) · expert_e(h)), where h is
// the shared encoder's output (run once for all tasks) and norm is mmoe.norm.
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <limits>

#include "core/model/sharing.h"

namespace mtl::model {
namespace {

struct ExpertImpl : torch::nn::Module {
  ExpertImpl(int64_t dModel, int64_t hidden, double dropoutP, nn::Activation activation) : activation(activation) {
    linear1 = register_module("linear1", nn::makeLinear(dModel, hidden));
    dropout = register_module("dropout", nn::makeDropout(dropoutP));
    linear2 = register_module("linear2", nn::makeLinear(hidden, dModel));
  }
  at::Tensor forward(const at::Tensor& h) { return nn::feedForward(h, linear1, dropout, linear2, activation); }
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::Dropout dropout{nullptr};
  nn::Activation activation;
};

struct GateImpl : torch::nn::Module {
  GateImpl(int64_t dModel, int64_t experts) { gate = register_module("gate", torch::nn::Linear(dModel, experts)); }
  torch::nn::Linear gate{nullptr};
};

struct MmoeOptions {
  int64_t experts = 4;
  int64_t topK = 0;  // 0: every expert
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(MmoeOptions, experts, topK)

class MmoeSchemeImpl : public SharingSchemeImpl {
 public:
  MmoeSchemeImpl(const ModelConfig& config, const MmoeOptions& options) : SharingSchemeImpl(config), options_(options) {
    const auto& enc = config.encoder;
    experts_ = register_module("experts", torch::nn::ModuleList());
    for (int64_t e = 0; e < options.experts; ++e) {
      experts_->push_back(std::make_shared<ExpertImpl>(enc.dModel, enc.dimFeedforward, enc.dropout, nn::parseActivation(enc.activation)));
    }
    norm_ = register_module("norm", nn::makeLayerNorm(enc.dModel, 1e-5));
  }
  const char* name() const override { return "mmoe"; }
  void removeTask(const std::string& task) override {
    if (gates_.erase(task) > 0) unregister_module(task);
  }
  void addTask(const std::string& task) override {
    gates_[task] = register_module(task, std::make_shared<GateImpl>(config_.encoder.dModel, options_.experts));
  }
  std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                           const std::vector<std::string>& tasks) override {
    const at::Tensor h = shared.run(x, paddingMask);
    std::vector<at::Tensor> outputs;
    for (size_t e = 0; e < experts_->size(); ++e) outputs.push_back(experts_->ptr<ExpertImpl>(e)->forward(h));
    const at::Tensor expertOutputs = at::stack(outputs, -1);  // (B, L, E, experts)
    std::map<std::string, at::Tensor> out;
    for (const auto& task : tasks) {
      at::Tensor logits = gates_.at(task)->gate(h);  // (B, L, experts)
      const int64_t k = options_.topK;
      if (k > 0 && k < logits.size(-1)) {
        const at::Tensor kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);
        logits = logits.masked_fill(logits.lt(kth), -std::numeric_limits<double>::infinity());
      }
      const at::Tensor weights = at::softmax(logits, -1).unsqueeze(-2);  // (B, L, 1, experts)
      out[task] = norm_(h + (expertOutputs * weights).sum(-1));
    }
    return out;
  }

 private:
  MmoeOptions options_;
  torch::nn::ModuleList experts_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  std::map<std::string, std::shared_ptr<GateImpl>> gates_;
};

const RegisterSharing<MmoeOptions> registered("mmoe", SharingCapabilities{/*encodesOncePerBatch*/ true, /*exportable*/ false},
                                              [](const MmoeOptions& options, const ModelConfig& config) {
                                                return std::make_shared<MmoeSchemeImpl>(config, options);
                                              });

}  // namespace
}  // namespace mtl::model
