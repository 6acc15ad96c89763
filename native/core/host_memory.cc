#include "core/host_memory.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mtl {

namespace {
// glibc's own ceiling for its dynamic mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit):
// larger blocks (a batch of logits over a big vocabulary) are still mapped and unmapped alone.
constexpr std::size_t kMmapThreshold = std::size_t{32} << 20;
// Up to this much free memory stays at the heap's top: several steps' activations of the models
// this package trains on a CPU.
constexpr std::size_t kTrimThreshold = std::size_t{256} << 20;

std::once_flag gTuneOnce;
HostAllocatorState gState;

HostAllocatorState decide() {
  HostAllocatorState state;
#if defined(__GLIBC__)
  if (const char* choice = std::getenv("MTL_TORCH_MALLOC"); choice && std::strcmp(choice, "system") == 0) {
    state.reason = "MTL_TORCH_MALLOC=system";
    return state;
  }
  if (const char* tunables = std::getenv("GLIBC_TUNABLES"); tunables && std::strstr(tunables, "glibc.malloc.")) {
    state.reason = "GLIBC_TUNABLES sets glibc.malloc.* already";
    return state;
  }
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold)) != 1 ||
      mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThreshold)) != 1) {
    state.reason = "mallopt refused the thresholds";
    return state;
  }
  state.tuned = true;
  state.mmapThreshold = kMmapThreshold;
  state.trimThreshold = kTrimThreshold;
#else
  state.reason = "the C library is not glibc";
#endif
  return state;
}
}  // namespace

HostAllocatorState tuneHostAllocator() {
  std::call_once(gTuneOnce, [] { gState = decide(); });
  return gState;
}

HostAllocatorState hostAllocatorState() { return tuneHostAllocator(); }

bool releaseHostMemory() {
#if defined(__GLIBC__)
  return malloc_trim(0) == 1;
#else
  return false;
#endif
}

}  // namespace mtl
