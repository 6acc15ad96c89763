// sharedEncoder(): hard parameter sharing. One encoder for all tasks, run once per input batch
// whatever the number of tasks; each task has its own head (and decoder).
#include "core/model/sharing.h"

namespace mtl::model {
namespace {

class SharedEncoderSchemeImpl : public SharingSchemeImpl {
 public:
  using SharingSchemeImpl::SharingSchemeImpl;
  const char* name() const override { return "shared_encoder"; }
  std::map<std::string, at::Tensor> encode(SharedEncoder& shared, const at::Tensor& x, const at::Tensor& paddingMask,
                                           const std::vector<std::string>& tasks) override {
    return sameForEvery(shared.run(x, paddingMask), tasks);
  }
};

const RegisterSharing<NoOptions> registered("sharedEncoder", SharingCapabilities{/*encodesOncePerBatch*/ true, /*exportable*/ true},
                                            [](const NoOptions&, const ModelConfig& config) {
                                              return std::make_shared<SharedEncoderSchemeImpl>(config);
                                            });

}  // namespace
}  // namespace mtl::model
