// The saved state of the training loop's parts (weighting, sampler, optimizer, positions), as
// named tensors: everything a checkpoint holds goes through safetensors, scalars included (as 0-d
// float64/int64 tensors), so a resumed run reads back exactly the bits it wrote.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>

namespace mtl::train {

using State = std::map<std::string, at::Tensor>;

inline void putDouble(State& state, const std::string& key, double value) {
  state[key] = at::scalar_tensor(value, at::kDouble);
}
inline void putInt(State& state, const std::string& key, int64_t value) {
  state[key] = at::scalar_tensor(value, at::kLong);
}
inline const at::Tensor& getTensor(const State& state, const std::string& key) {
  auto it = state.find(key);
  if (it == state.end()) throw std::invalid_argument("checkpoint: missing entry '" + key + "'");
  return it->second;
}
inline double getDouble(const State& state, const std::string& key) { return getTensor(state, key).item<double>(); }
inline int64_t getInt(const State& state, const std::string& key) { return getTensor(state, key).item<int64_t>(); }
inline bool hasKey(const State& state, const std::string& key) { return state.count(key) > 0; }

}  // namespace mtl::train
