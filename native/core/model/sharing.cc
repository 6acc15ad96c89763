#include "core/model/sharing.h"

#include <set>

namespace mtl::model {

std::shared_ptr<SharingSchemeImpl> makeSharingScheme(const ModelConfig& config) {
  return Registry<SharingEntry>::instance().at(config.sharing.kind).make(config.sharing.options, config);
}

std::vector<at::Tensor> SharingSchemeImpl::taskParameters(const std::string& task) const {
  for (const auto& child : named_children()) {
    if (child.key() == task) return child.value()->parameters();
  }
  return {};
}

std::vector<at::Tensor> SharingSchemeImpl::sharedParameters(const std::vector<std::string>& tasks) const {
  const std::set<std::string> taskNames(tasks.begin(), tasks.end());
  std::vector<at::Tensor> shared;
  for (const auto& param : named_parameters(/*recurse=*/false)) shared.push_back(param.value());
  for (const auto& child : named_children()) {
    if (taskNames.count(child.key())) continue;
    for (const auto& param : child.value()->parameters()) shared.push_back(param);
  }
  return shared;
}

std::map<std::string, at::Tensor> sameForEvery(const at::Tensor& encoded, const std::vector<std::string>& tasks) {
  std::map<std::string, at::Tensor> out;
  for (const auto& task : tasks) out[task] = encoded;
  return out;
}

at::Tensor encoderLayerWithHooks(nn::TransformerEncoderLayerImpl& layer, const at::Tensor& x, const at::Tensor& paddingMask,
                                 const SubBlockHooks& hooks) {
  const bool normFirst = layer.options.normFirst();
  const auto apply = [](const std::function<at::Tensor(const at::Tensor&)>& hook, const at::Tensor& h) { return hook ? hook(h) : h; };
  const nn::AttentionMasks masks{c10::nullopt, paddingMask};
  at::Tensor h = nn::residual(x, layer.norm1, normFirst, [&](const at::Tensor& in) {
    return apply(hooks.afterAttention, layer.dropout1(layer.selfAttn(in, in, in, masks).output));
  });
  return nn::residual(h, layer.norm2, normFirst, [&](const at::Tensor& in) {
    return apply(hooks.afterFeedForward,
                 layer.dropout2(nn::feedForward(in, layer.linear1, layer.dropout, layer.linear2, layer.options.activation())));
  });
}

}  // namespace mtl::model
