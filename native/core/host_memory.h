// How this process's C allocator (glibc malloc) hands tensor memory back to the system.
//
// CPU tensors come from malloc. glibc's defaults give every free block above 128 KiB at the top
// of the heap back to the kernel (brk/munmap) and take fresh pages on the next allocation, so a
// training step that allocates and frees the same few megabytes of activations again and again
// page-faults all of them every step. In a Node process this costs a Transformer step about a
// third of its time (perf: 5x the page faults of the same step in a Python process, 9 s of system
// time per 90 steps). tuneHostAllocator() raises the two thresholds so freed activations stay
// mapped for reuse: the setting PyTorch users get by preloading jemalloc or tcmalloc.
#pragma once
#include <cstddef>
#include <string>

namespace mtl {

struct HostAllocatorState {
  bool tuned = false;          // whether this process's thresholds were set by tuneHostAllocator
  std::size_t mmapThreshold = 0;  // allocations at least this large are mmapped (bytes; 0: untouched)
  std::size_t trimThreshold = 0;  // free memory above this at the heap's top goes back (bytes)
  std::string reason;          // why it was left alone, when it was
};

// Idempotent; the first call decides. Leaves malloc alone when MTL_TORCH_MALLOC=system, when the
// user already set glibc.malloc tunables (GLIBC_TUNABLES) or when the C library is not glibc.
HostAllocatorState tuneHostAllocator();
HostAllocatorState hostAllocatorState();

// Gives free heap memory back to the system now (malloc_trim); returns whether any was released.
bool releaseHostMemory();

}  // namespace mtl
