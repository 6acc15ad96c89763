// A sharing scheme decides which encoder parameters the tasks share and runs the encoder for a
// set of tasks. Each scheme is one file under sharing/ that registers itself (registry.h) with
// its options struct (the defaults), its capabilities and its factory.
//
// A scheme is a module registered in the model under its name() ("adapters", "lora", ...). Its
// children named after a task hold that task's parameters; every other parameter it has is
// shared by all tasks. The model owns the token/feature embedding and the shared `encoder` stack
// (sharedEncoderLayers() layers of it).
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/nn/transformer_encoder.h"
#include "core/registry.h"

namespace mtl::model {

// What a scheme gets to run the shared encoder. Every run of the shared stack (however many rows)
// is counted, so "encode once, decode many" can be checked.
struct SharedEncoder {
  nn::TransformerEncoderImpl& encoder;
  int64_t& runs;

  at::Tensor run(const at::Tensor& x, const at::Tensor& paddingMask) {
    ++runs;
    return encoder.forward(x, {}, paddingMask);
  }
};

class SharingSchemeImpl : public torch::nn::Module {
 public:
  explicit SharingSchemeImpl(const ModelConfig& config) : config_(config) {}

  // The scheme's module name in the model (its parameters' prefix: "adapters", "lora", ...).
  virtual const char* name() const = 0;
  // Whether the model's shared backbone starts frozen (adapters and LoRA: `freezeBackbone`).
  virtual bool freezesBackbone() const { return false; }
  // Layers of the model's shared `encoder` stack.
  virtual int64_t sharedEncoderLayers() const { return config_.encoder.numLayers; }
  // fullyShared: heads use one decoder owned by the model.
  virtual bool sharesDecoder() const { return false; }
  // Creates the task's own parameters (also for tasks added to a trained model).
  virtual void addTask(const std::string& task) { (void)task; }
  // Drops what addTask created (a refused loadAdapter takes back the task it added).
  virtual void removeTask(const std::string& task) { (void)task; }
  // The scheme's modules that are encoder layers of their own, by name under the scheme
  // ("<task>.layers.0") -> the index of the layer they stand for in a full encoder (layerwise: a
  // task's layer j is layer sharedLayers + j). A pretrained checkpoint initialises them from that
  // layer, and they are exported as that layer.
  virtual std::map<std::string, int64_t> encoderLayerCopies() const { return {}; }
  // The encoder output (B, L, E) of each task in `tasks`, for embedded inputs x (B, L, E) with
  // padding mask (B, L) (true = padding).
  virtual std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                                   const std::vector<std::string>& tasks) = 0;

  // Parameters of the scheme's child named `task` (empty when it has none).
  std::vector<at::Tensor> taskParameters(const std::string& task) const;
  // Parameters not under a task's child.
  std::vector<at::Tensor> sharedParameters(const std::vector<std::string>& tasks) const;

 protected:
  ModelConfig config_;
};

struct SharingCapabilities {
  // The shared encoder runs once per input batch whatever the number of tasks ("encode once,
  // decode many"); false where each task's encoding differs inside the encoder (adapters, LoRA).
  bool encodesOncePerBatch = true;
  // savePretrained writes the whole encoder as its checkpoint family's; false where the scheme adds
  // per-task parts such an encoder has no place for (then only `backbone: true` exports, the shared
  // backbone alone).
  bool exportable = true;
  // Each task's own part is an adapter file of its own (saveAdapter / loadAdapter).
  bool adapters = false;
  // Each task has its own top encoder layers above the scheme's first `sharedLayers` (an option).
  bool perTaskLayers = false;
  // The heads share one decoder, as deep as the deepest of the model's first tasks.
  bool sharedDecoder = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SharingCapabilities, encodesOncePerBatch, exportable, adapters, perTaskLayers,
                                                sharedDecoder)
// SharingCapabilities{encodesOncePerBatch, exportable, adapters, perTaskLayers, sharedDecoder}

inline constexpr char kSharingConcept[] = "sharing";
using SharingEntry = KindEntry<kSharingConcept, std::shared_ptr<SharingSchemeImpl>, ModelConfig>;
template <typename KindOptions>
using RegisterSharing = Register<SharingEntry, KindOptions>;

std::shared_ptr<SharingSchemeImpl> makeSharingScheme(const ModelConfig& config);

// Every task's output is the same shared encoding (the schemes whose tasks differ only after
// the shared encoder).
std::map<std::string, at::Tensor> sameForEvery(const at::Tensor& encoded, const std::vector<std::string>& tasks);

// An encoder layer's forward (torch.nn.TransformerEncoderLayer) with a function applied to each
// sub-block's output before its residual connection (identity when empty). Used by adapters.
struct SubBlockHooks {
  std::function<at::Tensor(const at::Tensor&)> afterAttention;
  std::function<at::Tensor(const at::Tensor&)> afterFeedForward;
};
at::Tensor encoderLayerWithHooks(nn::TransformerEncoderLayerImpl& layer, const at::Tensor& x, const at::Tensor& paddingMask,
                                 const SubBlockHooks& hooks);

}  // namespace mtl::model
