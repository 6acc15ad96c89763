// Where CPU tensor memory comes from: a caching allocator installed in front of libtorch's.
//
// A training step allocates and frees the same activation buffers every step. Through malloc,
// freed buffers go back to the kernel (brk/munmap trimming, and per-thread arenas that drop and
// recreate whole heaps), so every step page-faults its working set in again: for the 4-layer
// d=256 benchmark model with three tasks, about 1 GB per step, a third of the step's time on this
// kind of VM (perf: 1.1M faults per 10 steps, against 0.36M for the same loop in Python, which
// runs on one thread). The cache keeps freed blocks of 64 KiB and more, by size class, and hands
// them to the next allocation of that class, so a steady training loop faults nothing.
//
// Size classes are 2^k · {1, 1.25, 1.5, 1.75}: at most 25% slack, and a batch a few tokens longer
// than the last reuses its blocks. The cache holds at most a limit (2 GiB by default,
// MTL_TORCH_HOST_CACHE_MB); blocks freed beyond it go back to the system. MTL_TORCH_MALLOC=system
// leaves libtorch's allocator alone.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace mtl {

struct HostAllocatorState {
  bool caching = false;         // whether the caching allocator serves CPU tensors
  std::size_t cacheLimit = 0;   // most bytes kept for reuse
  std::size_t cachedBytes = 0;  // bytes kept now (free blocks)
  int64_t hits = 0;             // allocations served from the cache
  int64_t misses = 0;           // cacheable allocations that went to the system
  std::string reason;           // why the cache is off, when it is
};

// Installs the caching allocator as libtorch's CPU allocator, unless MTL_TORCH_MALLOC=system or
// MTL_TORCH_HOST_CACHE_MB=0. Idempotent: the first call decides.
void installHostAllocator();
HostAllocatorState hostAllocatorState();

// Gives every cached block back to the system, then trims malloc's heap (malloc_trim). Returns
// the bytes the cache released.
std::size_t releaseHostMemory();

// A host tensor copied to `device` without waiting for the device: to CUDA through pinned memory
// with a non-blocking copy (a plain copy from pageable memory synchronizes the stream, i.e. waits
// for every kernel queued so far; libtorch does not reuse the pinned block before the copy has
// run); elsewhere a plain .to(). Same values either way. For batches and host-solved coefficients.
at::Tensor hostToDevice(const at::Tensor& host, const c10::Device& device);

}  // namespace mtl
