#include "core/safetensors.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/runtime.h"

// The format is little-endian and tensors are copied byte for byte; a big-endian host would need
// byte swapping, which nothing here does.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mtl-torch's safetensors code assumes a little-endian host"
#endif

namespace mtl::safetensors {

namespace fs = std::filesystem;

namespace {

constexpr size_t kLengthPrefixBytes = 8;
// The reference writer pads the header so that the data buffer starts 8-byte aligned.
constexpr size_t kHeaderAlignment = 8;
const char* const kMetadataKey = "__metadata__";

const std::pair<const char*, c10::ScalarType> kFormatDtypes[] = {
    {"F64", c10::kDouble}, {"F32", c10::kFloat}, {"F16", c10::kHalf}, {"BF16", c10::kBFloat16},
    {"I64", c10::kLong},   {"I32", c10::kInt},   {"U8", c10::kByte},  {"BOOL", c10::kBool},
};

// A name as it appears in messages: quoted, and cut short, since a hostile file may hold anything.
std::string describeName(const std::string& name) {
  constexpr size_t kShown = 64;
  return "'" + (name.size() <= kShown ? name : name.substr(0, kShown) + "...") + "'";
}

[[noreturn]] void refuse(const std::string& message) { throw FormatError(message); }

c10::ScalarType parseFormatDtype(const std::string& text, const std::string& name) {
  for (const auto& [formatName, type] : kFormatDtypes) {
    if (text == formatName) return type;
  }
  refuse("tensor " + describeName(name) + " has dtype " + describeName(text) +
         ", which mtl-torch does not read (it reads F64, F32, F16, BF16, I64, I32, U8 and BOOL)");
}

// One tensor as the header describes it.
struct Entry {
  std::string name;
  c10::ScalarType dtype = c10::kFloat;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

struct Header {
  std::vector<Entry> entries;  // sorted by their position in the data buffer
  Metadata metadata;
};

// numel × element size. Refuses, before anything is allocated, shapes whose product of sizes
// (zeros counted as ones) overflows int64: libtorch's contiguous strides are such products, so
// they must fit even for an empty tensor like [0, 2^62, 2^62].
uint64_t byteSizeOf(const Entry& entry) {
  uint64_t count = 1;
  uint64_t span = 1;
  for (const int64_t size : entry.shape) {
    const auto extent = static_cast<uint64_t>(size);
    const uint64_t factor = std::max<uint64_t>(extent, 1);
    if (span > static_cast<uint64_t>(INT64_MAX) / factor) {
      refuse("tensor " + describeName(entry.name) + " has a shape whose size product overflows 64 bits");
    }
    span *= factor;
    count *= extent;  // count ≤ span
  }
  return count * c10::elementSize(entry.dtype);  // count < 2^63 and element size ≤ 8: no overflow
}

uint64_t unsignedValue(const nlohmann::json& value, const std::string& what) {
  if (!value.is_number_unsigned()) refuse(what + " must be a non-negative integer below 2^64");
  return value.get<uint64_t>();
}

Entry readEntry(const std::string& name, const nlohmann::json& value) {
  Entry entry;
  entry.name = name;
  const std::string where = "tensor " + describeName(name);
  if (!value.is_object()) refuse(where + " is not described by an object");
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(field)) refuse(where + " lacks '" + field + "'");
  }
  // Other fields are ignored, as the reference implementation does.
  const auto& dtype = value.at("dtype");
  if (!dtype.is_string()) refuse(where + ": 'dtype' must be a string");
  entry.dtype = parseFormatDtype(dtype.get<std::string>(), name);
  const auto& shape = value.at("shape");
  if (!shape.is_array()) refuse(where + ": 'shape' must be an array");
  for (const auto& size : shape) {
    const uint64_t extent = unsignedValue(size, where + ": a dimension");
    if (extent > static_cast<uint64_t>(INT64_MAX)) refuse(where + " has a dimension larger than 2^63 - 1");
    entry.shape.push_back(static_cast<int64_t>(extent));
  }
  const auto& offsets = value.at("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2) refuse(where + ": data_offsets must be [begin, end]");
  entry.begin = unsignedValue(offsets[0], where + ": data_offsets");
  entry.end = unsignedValue(offsets[1], where + ": data_offsets");
  return entry;
}

void readMetadata(const nlohmann::json& value, Metadata& metadata) {
  if (!value.is_object()) refuse("__metadata__ is not an object");
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string()) refuse("__metadata__ value of " + describeName(key) + " is not a string");
    metadata.emplace(key, text.get<std::string>());
  }
}

void checkRanges(const Entry& entry, uint64_t dataSize) {
  const std::string where = "tensor " + describeName(entry.name);
  if (entry.begin > entry.end) refuse(where + " has data_offsets that end before they begin");
  if (entry.end > dataSize) {
    refuse(where + " ends at byte " + std::to_string(entry.end) + " of a data buffer of " + std::to_string(dataSize) + " bytes");
  }
  const uint64_t expected = byteSizeOf(entry);
  if (entry.end - entry.begin != expected) {
    refuse(where + " has " + std::to_string(entry.end - entry.begin) + " bytes but its dtype and shape need " + std::to_string(expected));
  }
}

// The format requires the entries to tile the data buffer: no two overlap and no byte is unused
// (so a file cannot hide other content). Sorts the entries into buffer order on the way.
void checkTiling(std::vector<Entry>& entries, uint64_t dataSize) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t cursor = 0;
  for (const Entry& entry : entries) {
    if (entry.begin < cursor) refuse("tensor " + describeName(entry.name) + " overlaps the tensor before it");
    if (entry.begin > cursor) {
      refuse("bytes " + std::to_string(cursor) + " to " + std::to_string(entry.begin) + " of the data buffer belong to no tensor");
    }
    cursor = entry.end;
  }
  if (cursor != dataSize) {
    refuse("the last " + std::to_string(dataSize - cursor) + " bytes of the data buffer belong to no tensor");
  }
}

// A name that occurs twice, or null. Sorts pointers, so the names themselves are not copied.
const std::string* findDuplicate(std::vector<const std::string*> names) {
  std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  const auto twin = std::adjacent_find(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a == *b; });
  return twin == names.end() ? nullptr : *twin;
}

// The header as JSON (nlohmann's strict RFC 8259 parser, which also refuses ill-formed UTF-8).
// The parser's callback keeps the document flat and honest: nothing nests deeper than a tensor's
// shape array (so a hostile header cannot build a deep tree), and no object repeats a key (JSON
// parsers differ on which repeat wins; the format forbids the ambiguity).
nlohmann::json parseJson(std::string_view text) {
  constexpr int kMaxDepth = 2;              // root object → tensor entry → shape / data_offsets array
  std::vector<std::set<std::string>> keys;  // the keys of each open object
  std::string entry;                        // the root's current key (a tensor name or __metadata__)
  const nlohmann::json::parser_callback_t check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth > kMaxDepth) {
      refuse("the header nests deeper than a tensor entry's arrays");
    }
    if (event == Event::object_start) keys.emplace_back();
    if (event == Event::object_end) keys.pop_back();
    if (event == Event::key) {
      const std::string key = parsed.get<std::string>();
      if (depth == 1) entry = key;
      if (!keys.back().insert(key).second) {
        if (depth == 1) refuse("the header names " + describeName(key) + " twice");
        refuse(entry == kMetadataKey ? "__metadata__ has the key " + describeName(key) + " twice"
                                     : "tensor " + describeName(entry) + " has two " + describeName(key) + " fields");
      }
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::exception& error) {
    // "[json.exception.parse_error.101] parse error at line 1, column 7: ..." → the part after the tag.
    std::string message = error.what();
    const auto tag = message.find("] ");
    refuse("header: " + (tag == std::string::npos ? message : message.substr(tag + 2)));
  }
}

Header parseHeader(std::string_view text, uint64_t dataSize) {
  if (text.empty() || text[0] != '{') refuse("the header does not start with '{'");
  const nlohmann::json document = parseJson(text);
  Header header;
  for (const auto& [key, value] : document.items()) {
    if (key == kMetadataKey) {
      readMetadata(value, header.metadata);
    } else {
      header.entries.push_back(readEntry(key, value));
    }
  }
  for (const Entry& entry : header.entries) checkRanges(entry, dataSize);
  checkTiling(header.entries, dataSize);
  return header;
}

// Reads a whole safetensors image of `totalSize` bytes through readBytes(destination, count),
// which delivers the next `count` bytes. Every size is validated before the memory it implies is
// allocated, and bytes go straight into the tensors' storage.
template <typename ReadBytes>
Loaded readImage(uint64_t totalSize, ReadBytes&& readBytes) {
  if (totalSize < kLengthPrefixBytes) {
    refuse("only " + std::to_string(totalSize) + " bytes, fewer than the 8-byte header length");
  }
  uint8_t prefix[kLengthPrefixBytes];
  readBytes(prefix, kLengthPrefixBytes);
  uint64_t headerLength = 0;
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) headerLength |= static_cast<uint64_t>(prefix[i]) << (8 * i);
  if (headerLength > kMaxHeaderBytes) {
    refuse("header length " + std::to_string(headerLength) + " exceeds the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (headerLength > totalSize - kLengthPrefixBytes) {
    refuse("header length " + std::to_string(headerLength) + " is more than the " + std::to_string(totalSize - kLengthPrefixBytes) +
           " bytes that follow it (truncated?)");
  }
  Header header;
  {
    std::string text(headerLength, '\0');
    readBytes(text.data(), headerLength);
    header = parseHeader(text, totalSize - kLengthPrefixBytes - headerLength);
  }
  Loaded loaded;
  loaded.metadata = std::move(header.metadata);
  loaded.tensors.reserve(header.entries.size());
  for (Entry& entry : header.entries) {
    at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(entry.dtype));
    const uint64_t bytes = entry.end - entry.begin;
    if (bytes > 0) readBytes(tensor.data_ptr(), bytes);
    // A bool byte other than 0 or 1 is undefined behaviour in C++ kernels: refuse it here.
    if (entry.dtype == c10::kBool && bytes > 0) {
      const auto* data = static_cast<const uint8_t*>(tensor.data_ptr());
      if (std::any_of(data, data + bytes, [](uint8_t b) { return b > 1; })) {
        refuse("BOOL tensor " + describeName(entry.name) + " holds a byte that is neither 0 nor 1");
      }
    }
    loaded.tensors.emplace_back(std::move(entry.name), std::move(tensor));
  }
  return loaded;
}

// ---- writing ----

// What save() and serialize() write: the length prefix and padded header, then the tensors'
// bytes in `order`.
struct Layout {
  std::string prefixAndHeader;
  std::vector<size_t> order;  // indices into the caller's tensors, in data-buffer order
};

Layout planLayout(const NamedTensors& tensors, const Metadata& metadata) {
  std::vector<const std::string*> names;
  names.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const std::string where = "tensor " + describeName(name);
    if (name == kMetadataKey) throw std::invalid_argument("a tensor cannot be named __metadata__");
    if (!tensor.defined()) throw std::invalid_argument(where + " is undefined");
    if (tensor.layout() != c10::kStrided) throw std::invalid_argument(where + " is not dense");
    formatDtypeName(tensor.scalar_type());  // throws for a dtype the format cannot hold
    names.push_back(&name);
  }
  if (const std::string* twin = findDuplicate(std::move(names))) {
    throw std::invalid_argument("two tensors are named " + describeName(*twin));
  }
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Larger elements first keeps each tensor aligned to its element size; stable, so within one
  // element size the caller's order survives.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tensors[a].second.element_size() > tensors[b].second.element_size(); });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const size_t index : order) {
    const auto& [name, tensor] = tensors[index];
    const uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    header[name] = {
        {"dtype", formatDtypeName(tensor.scalar_type())}, {"shape", tensor.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::type_error&) {
    throw std::invalid_argument("a tensor name or metadata entry is not valid UTF-8");
  }
  json.append((kHeaderAlignment - json.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
  if (json.size() > kMaxHeaderBytes) throw std::invalid_argument("the safetensors header would exceed 100 MB");

  Layout layout;
  layout.prefixAndHeader.reserve(kLengthPrefixBytes + json.size());
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    layout.prefixAndHeader += static_cast<char>((static_cast<uint64_t>(json.size()) >> (8 * i)) & 0xFF);
  }
  layout.prefixAndHeader += json;
  layout.order = std::move(order);
  return layout;
}

// Hands each tensor's bytes, in layout order, to write(pointer, count). One tensor at a time is
// copied to the CPU (and made contiguous) only if it is not already, so a CUDA model does not
// need a second full copy in host memory.
template <typename WriteBytes>
void writeImage(const NamedTensors& tensors, const Layout& layout, WriteBytes&& write) {
  write(layout.prefixAndHeader.data(), layout.prefixAndHeader.size());
  for (const size_t index : layout.order) {
    const at::Tensor host = tensors[index].second.detach().to(c10::kCPU).contiguous();
    const size_t bytes = static_cast<size_t>(host.numel()) * host.element_size();
    if (bytes > 0) write(static_cast<const char*>(host.data_ptr()), bytes);
  }
}

void checkPath(const std::string& path) {
  if (path.empty()) throw std::invalid_argument("the path is empty");
  if (path.find('\0') != std::string::npos) throw std::invalid_argument("the path contains a NUL character");
}

}  // namespace

std::string formatDtypeName(c10::ScalarType type) {
  for (const auto& [name, candidate] : kFormatDtypes) {
    if (candidate == type) return name;
  }
  throw std::invalid_argument("safetensors cannot hold dtype " + dtypeName(type) +
                              " (float32, float64, float16, bfloat16, int32, int64, uint8 and bool can be saved)");
}

void save(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  checkPath(path);
  const Layout layout = planLayout(tensors, metadata);  // refuse bad input before touching the disk
  io::writeAtomically(path, [&](const io::Writer& write) { writeImage(tensors, layout, write); });
}

Loaded load(const std::string& path) {
  checkPath(path);
  io::RegularFile file(path);
  try {
    return readImage(file.size(), [&](void* destination, size_t count) { file.read(destination, count); });
  } catch (const FormatError& error) {
    throw FormatError("'" + path + "' is not a valid safetensors file: " + error.what());
  }
}

}  // namespace mtl::safetensors
