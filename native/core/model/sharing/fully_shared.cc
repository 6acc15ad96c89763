// fullyShared(): encoder and decoder shared by all tasks. A learned task embedding
// (fully_shared.<task>.embedding, shape (E)) is added to every input position, which tells the
// model which task it runs; heads with decoder layers use the model's one shared `decoder`, and
// only their output projections (and a sequence task's target embedding) differ.
// The task-conditioned inputs of several tasks are stacked along the batch, so the encoder still
// runs once for all of them.
#include <torch/nn/init.h>

#include "core/model/sharing.h"

namespace mtl::model {
namespace {

struct TaskEmbeddingImpl : torch::nn::Module {
  explicit TaskEmbeddingImpl(int64_t dModel) {
    embedding = register_parameter("embedding", at::empty({dModel}));
    torch::nn::init::normal_(embedding, 0.0, 0.02);
  }
  at::Tensor embedding;
};

class FullySharedSchemeImpl : public SharingSchemeImpl {
 public:
  using SharingSchemeImpl::SharingSchemeImpl;
  const char* name() const override { return "fully_shared"; }
  bool sharesDecoder() const override { return true; }
  void removeTask(const std::string& task) override {
    if (embeddings_.erase(task) > 0) unregister_module(task);
  }
  void addTask(const std::string& task) override {
    embeddings_[task] = register_module(task, std::make_shared<TaskEmbeddingImpl>(config_.encoder.dModel));
  }
  std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                           const std::vector<std::string>& tasks) override {
    std::vector<at::Tensor> conditioned;
    for (const auto& task : tasks) conditioned.push_back(x + embeddings_.at(task)->embedding);
    const int64_t n = static_cast<int64_t>(tasks.size());
    const at::Tensor encoded = shared.run(at::cat(conditioned, 0), paddingMask.repeat({n, 1}));
    const auto parts = encoded.chunk(n, 0);
    std::map<std::string, at::Tensor> out;
    for (int64_t i = 0; i < n; ++i) out[tasks[i]] = parts[i];
    return out;
  }

 private:
  std::map<std::string, std::shared_ptr<TaskEmbeddingImpl>> embeddings_;
};

const RegisterSharing<NoOptions> registered("fullyShared",
                                            SharingCapabilities{/*encodesOncePerBatch*/ true, /*exportable*/ false, /*adapters*/ false,
                                                                /*perTaskLayers*/ false, /*sharedDecoder*/ true},
                                            [](const NoOptions&, const ModelConfig& config) {
                                              return std::make_shared<FullySharedSchemeImpl>(config);
                                            });

}  // namespace
}  // namespace mtl::model
