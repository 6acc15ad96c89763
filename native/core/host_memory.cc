#include "core/host_memory.h"

#include <ATen/ATen.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mtl {

namespace {

constexpr std::size_t kMinCached = std::size_t{64} << 10;
constexpr std::size_t kDefaultLimitMb = 2048;
// Each block starts with a header holding its size class (0: not cached); the tensor's data
// follows, 64-byte aligned as c10::alloc_cpu's own blocks.
constexpr std::size_t kHeader = 64;

std::size_t sizeClass(std::size_t n) {
  std::size_t base = std::size_t{1} << (63 - __builtin_clzll(n));
  const std::size_t step = base / 4;
  return (n + step - 1) / step * step;
}

class CachingHostAllocator final : public c10::Allocator {
 public:
  explicit CachingHostAllocator(std::size_t limit) : limit_(limit) {}

  c10::DataPtr allocate(std::size_t n) const override {
    if (n == 0) return {nullptr, nullptr, &release, c10::Device(c10::DeviceType::CPU)};
    const std::size_t size = n >= kMinCached ? sizeClass(n) : 0;
    char* block = size ? static_cast<char*>(take(size)) : nullptr;
    if (!block) block = static_cast<char*>(c10::alloc_cpu(kHeader + (size ? size : n)));
    std::memcpy(block, &size, sizeof size);
    void* data = block + kHeader;
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  // A pure virtual of c10::Allocator from PyTorch 2.3 on; a plain member before.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  HostAllocatorState state() const {
    std::lock_guard<std::mutex> lock(mutex_);
    HostAllocatorState s;
    s.caching = true;
    s.cacheLimit = limit_;
    s.cachedBytes = cachedBytes_;
    s.hits = hits_;
    s.misses = misses_;
    return s;
  }

  std::size_t releaseAll() {
    std::unordered_map<std::size_t, std::vector<void*>> blocks;
    std::size_t released = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      released = cachedBytes_;
      cachedBytes_ = 0;
    }
    for (auto& [size, list] : blocks) {
      for (void* block : list) c10::free_cpu(block);
    }
    return released;
  }

 private:
  static void release(void* data);

  void* take(std::size_t size) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_.find(size);
    if (found == free_.end() || found->second.empty()) {
      ++misses_;
      return nullptr;
    }
    void* block = found->second.back();
    found->second.pop_back();
    cachedBytes_ -= size;
    ++hits_;
    return block;
  }

  void put(void* block, std::size_t size) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cachedBytes_ + size <= limit_) {
        free_[size].push_back(block);
        cachedBytes_ += size;
        return;
      }
    }
    c10::free_cpu(block);
  }

  const std::size_t limit_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::size_t, std::vector<void*>> free_;
  mutable std::size_t cachedBytes_ = 0;
  mutable int64_t hits_ = 0, misses_ = 0;
};

// Never destroyed: tensors may be freed during static destruction, after any destructor ran.
CachingHostAllocator* gAllocator = nullptr;
std::once_flag gInstallOnce;
std::string gReason;

void CachingHostAllocator::release(void* data) {
  if (!data) return;
  char* block = static_cast<char*>(data) - kHeader;
  std::size_t size = 0;
  std::memcpy(&size, block, sizeof size);
  if (size == 0) {
    c10::free_cpu(block);
  } else {
    gAllocator->put(block, size);
  }
}

std::size_t limitFromEnvironment() {
  const char* value = std::getenv("MTL_TORCH_HOST_CACHE_MB");
  if (!value || !*value) return kDefaultLimitMb << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(value, &end, 10);
  if (*end != '\0') return kDefaultLimitMb << 20;
  return static_cast<std::size_t>(mb) << 20;
}

}  // namespace

void installHostAllocator() {
  std::call_once(gInstallOnce, [] {
    if (const char* choice = std::getenv("MTL_TORCH_MALLOC"); choice && std::strcmp(choice, "system") == 0) {
      gReason = "MTL_TORCH_MALLOC=system";
      return;
    }
    const std::size_t limit = limitFromEnvironment();
    if (limit == 0) {
      gReason = "MTL_TORCH_HOST_CACHE_MB=0";
      return;
    }
    gAllocator = new CachingHostAllocator(limit);
    // Priority 1: above libtorch's default CPU allocator (0).
    c10::SetCPUAllocator(gAllocator, /*priority=*/1);
  });
}

HostAllocatorState hostAllocatorState() {
  installHostAllocator();
  if (!gAllocator) {
    HostAllocatorState state;
    state.reason = gReason;
    return state;
  }
  return gAllocator->state();
}

std::size_t releaseHostMemory() {
  const std::size_t released = gAllocator ? gAllocator->releaseAll() : 0;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  return released;
}

at::Tensor hostToDevice(const at::Tensor& host, const c10::Device& device) {
  if (!device.is_cuda() || !host.device().is_cpu()) return host.to(device);
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace mtl
