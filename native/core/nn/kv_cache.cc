#include "core/nn/kv_cache.h"

namespace mtl::nn {

void KeyValueCache::reorder(const at::Tensor& indices) {
  if (!filled()) return;
  const at::Tensor index = indices.to(keys.device(), at::kLong);
  keys = keys.index_select(0, index);
  values = values.index_select(0, index);
}

void DecoderCache::clear() {
  for (auto& layer : layers) {
    layer.self.clear();
    layer.cross.clear();
  }
}

void DecoderCache::reorder(const at::Tensor& indices) {
  for (auto& layer : layers) {
    layer.self.reorder(indices);
    layer.cross.reorder(indices);
  }
}

}  // namespace mtl::nn
