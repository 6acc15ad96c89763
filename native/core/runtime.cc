#include "core/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace mtl {

namespace {
const std::pair<const char*, c10::ScalarType> kDtypes[] = {
    {"float32", c10::kFloat}, {"float64", c10::kDouble}, {"float16", c10::kHalf}, {"bfloat16", c10::kBFloat16},
    {"int32", c10::kInt},     {"int64", c10::kLong},     {"uint8", c10::kByte},   {"bool", c10::kBool},
};
}  // namespace

c10::ScalarType parseDtype(const std::string& name) {
  for (const auto& [dtypeName, type] : kDtypes) {
    if (name == dtypeName) return type;
  }
  throw std::invalid_argument("unknown dtype '" + name + "' (expected float32, float64, float16, bfloat16, int32, int64, uint8 or bool)");
}

std::string dtypeName(c10::ScalarType type) {
  for (const auto& [name, candidate] : kDtypes) {
    if (candidate == type) return name;
  }
  return c10::toString(type);
}

namespace {
// A CUDA device that this process cannot use is refused here with a clear sentence, instead of
// libtorch's dispatcher error (a page listing every backend) deep inside the first op.
c10::Device checkedCuda(const std::string& name, int index) {
  if (!cudaAvailable()) {
    throw std::invalid_argument("device '" + name + "' is not available: this libtorch has no CUDA support or no GPU is visible");
  }
  const int64_t count = cudaDeviceCount();
  if (index >= count) {
    throw std::invalid_argument("device '" + name + "' does not exist: " + std::to_string(count) + " CUDA device(s) visible");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}
}  // namespace

c10::Device parseDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "cuda") return checkedCuda(name, 0);
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9 && name.find_first_not_of("0123456789", 5) == std::string::npos) {
    return checkedCuda(name, std::stoi(name.substr(5)));
  }
  throw std::invalid_argument("unknown device '" + name + "' (expected 'cpu', 'cuda' or 'cuda:N')");
}

std::string deviceName(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  return device.str();
}

void manualSeed(uint64_t seed) {
  {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_current_seed(seed);
  }
  const int64_t cudaDevices = cudaDeviceCount();
  for (int64_t i = 0; i < cudaDevices; ++i) {
    auto generator = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_current_seed(seed);
  }
}

void adoptThreadSettings() { at::init_num_threads(); }

int maxThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return kThreadsPerCore * static_cast<int>(cores == 0 ? 1 : cores);
}

void setNumThreads(int threads) {
  if (threads < 1) throw std::invalid_argument("threads must be at least 1");
  // Thousands of threads can exceed the process's thread limit; OpenMP then hangs making its pool.
  if (threads > maxThreads())
    throw std::invalid_argument("threads must be at most " + std::to_string(maxThreads()) + " (" + std::to_string(kThreadsPerCore) +
                                " per core)");
  at::set_num_threads(threads);
}

int getNumThreads() { return at::get_num_threads(); }

bool cudaAvailable() { return at::detail::getCUDAHooks().hasCUDA(); }

int64_t cudaDeviceCount() { return cudaAvailable() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

}  // namespace mtl
