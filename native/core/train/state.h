// The saved state of the training loop's parts (weighting, sampler, optimizer, positions), as
// named tensors: everything a checkpoint holds goes through safetensors, scalars included (as 0-d
// float64/int64 tensors), so a resumed run reads back exactly the bits it wrote.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>

namespace mtl::train {

using State = std::map<std::string, at::Tensor>;

inline void putDouble(State& state, const std::string& key, double value) { state[key] = at::scalar_tensor(value, at::kDouble); }
inline void putInt(State& state, const std::string& key, int64_t value) { state[key] = at::scalar_tensor(value, at::kLong); }
inline const at::Tensor& getTensor(const State& state, const std::string& key) {
  auto it = state.find(key);
  if (it == state.end()) throw std::invalid_argument("checkpoint: missing entry '" + key + "'");
  return it->second;
}
// A scalar entry, refused unless it is the 0-d tensor of the dtype putDouble/putInt write.
inline const at::Tensor& getScalar(const State& state, const std::string& key, at::ScalarType dtype) {
  const at::Tensor& t = getTensor(state, key);
  if (t.dim() != 0 || t.scalar_type() != dtype) {
    throw std::invalid_argument("checkpoint: '" + key + "' must be a 0-d " + c10::toString(dtype) + " tensor");
  }
  return t;
}
inline double getDouble(const State& state, const std::string& key) { return getScalar(state, key, at::kDouble).item<double>(); }
inline int64_t getInt(const State& state, const std::string& key) { return getScalar(state, key, at::kLong).item<int64_t>(); }
// An integer entry in [low, high], refused otherwise (a checkpoint's counters and indices).
inline int64_t getIntIn(const State& state, const std::string& key, int64_t low, int64_t high) {
  const int64_t value = getInt(state, key);
  if (value < low || value > high) {
    throw std::invalid_argument("checkpoint: '" + key + "' is " + std::to_string(value) + ", outside [" + std::to_string(low) + ", " +
                                std::to_string(high) + "]");
  }
  return value;
}
// A tensor entry of the given shape and dtype (learned state such as a weighting's parameters).
inline const at::Tensor& getTensorLike(const State& state, const std::string& key, const at::Tensor& like) {
  const at::Tensor& t = getTensor(state, key);
  if (t.sizes() != like.sizes() || t.scalar_type() != like.scalar_type()) {
    throw std::invalid_argument("checkpoint: '" + key + "' has shape " + c10::str(t.sizes()) + " and dtype " +
                                c10::toString(t.scalar_type()) + ", and this run needs " + c10::str(like.sizes()) + " " +
                                c10::toString(like.scalar_type()));
  }
  return t;
}
inline bool hasKey(const State& state, const std::string& key) { return state.count(key) > 0; }

}  // namespace mtl::train
