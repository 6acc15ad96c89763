// The safetensors file format (https://github.com/huggingface/safetensors), read and written
// without any third-party code:
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   a UTF-8 JSON object: {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]},
//             ..., "__metadata__": {"key": "value", ...}}, padded with spaces
//   the rest  the data buffer; [b, e) are byte offsets into it, row-major, little-endian
// Files come from anywhere, so reading validates everything before it allocates: the header length
// against the file size and a cap, every entry's dtype, shape and offsets, and that the entries
// tile the data buffer exactly (no overlap, no hole), as the format requires. A bad file throws
// safetensors::FormatError (a std::invalid_argument) saying what is wrong; I/O failures throw
// std::runtime_error. Memory used while reading is the tensors' own bytes plus a small multiple
// of the header, never an amount a size field claims.
#pragma once
#include <ATen/ATen.h>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mtl::safetensors {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;  // order preserved
using Metadata = std::map<std::string, std::string>;

struct FormatError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// The largest header accepted (the reference implementation's limit too).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Writes atomically: into a temporary file next to `path`, renamed over `path` once complete, so
// a reader never sees a half-written file. Tensors may live on any device and be non-contiguous;
// they are written as contiguous little-endian bytes. Entries of larger element size come first
// (so every tensor's bytes are aligned to its element size, as the reference writer ensures);
// within one element size, the given order is kept, and load() returns that order.
void save(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

struct Loaded {
  NamedTensors tensors;  // in the order of their bytes in the file
  Metadata metadata;
};

// Reads a file in one pass; tensors are on the CPU and own their memory.
Loaded load(const std::string& path);

// The format's dtype names ("F32", "BF16", ...) for the dtypes mtl-torch reads and writes.
std::string formatDtypeName(c10::ScalarType type);

}  // namespace mtl::safetensors
