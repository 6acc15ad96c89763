// Process-wide runtime facts and settings: dtype and device names, seeding, threads, CUDA.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <string>

namespace mtl {

// dtype names are PyTorch's ("float32", "int64", ...). Throws std::invalid_argument otherwise.
c10::ScalarType parseDtype(const std::string& name);
std::string dtypeName(c10::ScalarType type);

// "cpu", "cuda", "cuda:N". Throws std::invalid_argument for anything else, and for a CUDA device
// this process cannot use (no CUDA support, no GPU, index out of range).
c10::Device parseDevice(const std::string& name);
std::string deviceName(const c10::Device& device);

// Seeds the CPU generator and every CUDA generator, as torch.manual_seed does.
void manualSeed(uint64_t seed);

// Intra-op threads: 1 to maxThreads() (kThreadsPerCore per core), else std::invalid_argument.
constexpr int kThreadsPerCore = 4;
int maxThreads();
void setNumThreads(int threads);
int getNumThreads();
// Applies the process's thread setting to the calling thread. With OpenMP, setNumThreads only
// reaches the thread that called it, so a job on another thread (a training run on a libuv worker)
// would use every core whatever the user chose; such a job calls this first.
void adoptThreadSettings();

bool cudaAvailable();
int64_t cudaDeviceCount();

}  // namespace mtl
