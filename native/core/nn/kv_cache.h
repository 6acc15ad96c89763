// Key/value caches for incremental decoding: generating token n attends to the keys and values of
// tokens 1..n-1 kept from earlier steps instead of recomputing them, so n tokens cost n steps.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <vector>

namespace mtl::nn {

// The projected keys and values of one attention layer, heads split: (B, H, S, headDim).
struct KeyValueCache {
  at::Tensor keys;
  at::Tensor values;

  bool filled() const { return keys.defined(); }
  int64_t length() const { return filled() ? keys.size(2) : 0; }
  void clear() {
    keys = at::Tensor();
    values = at::Tensor();
  }
  // Keeps the batch rows `indices` (beam search reorders hypotheses between steps).
  void reorder(const at::Tensor& indices);
};

// How an attention layer uses its cache.
enum class CacheUpdate {
  kAppend,  // self-attention: this step's keys and values are appended to the past ones
  kReuse,   // cross-attention: keys and values come from the memory once, then are reused
};

// One decoder layer's caches.
struct DecoderLayerCache {
  KeyValueCache self;   // grows by the number of new tokens every step
  KeyValueCache cross;  // computed from the memory on the first step
};

// A whole decoder stack's caches, one per layer, created empty for a given number of layers.
struct DecoderCache {
  std::vector<DecoderLayerCache> layers;

  DecoderCache() = default;
  explicit DecoderCache(size_t numLayers) : layers(numLayers) {}
  // Tokens decoded so far.
  int64_t length() const { return layers.empty() ? 0 : layers.front().self.length(); }
  void clear();
  void reorder(const at::Tensor& indices);
};

}  // namespace mtl::nn
