#include "core/distributed/backends.h"

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <thread>

// c10d's headers declare ProcessGroupGloo and ProcessGroupNCCL only under USE_C10D_GLOO and
// USE_C10D_NCCL, macros of libtorch's own build that its CMake package does not export. Every
// Linux and macOS libtorch is built with Gloo, so its class is declared whenever Gloo's headers
// are there to compile it. NCCL exists only in CUDA builds: the build system defines
// MTL_WITH_NCCL when libtorch has CUDA and nccl.h was found (scripts/find-libtorch.cjs).
#if __has_include(<gloo/algorithm.h>)
#define MTL_WITH_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

#if defined(MTL_WITH_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace mtl::distributed::detail {

std::vector<std::string> availableBackends() {
  std::vector<std::string> names;
#if defined(MTL_WITH_GLOO)
  names.push_back("gloo");
#endif
#if defined(MTL_WITH_NCCL)
  names.push_back("nccl");
#endif
  return names;
}

std::string backendProblem(const std::string& backend, const c10::Device& device) {
  if (backend == "gloo") {
#if defined(MTL_WITH_GLOO)
    if (device.is_cuda() && !at::hasCUDA()) return "device " + device.str() + " is not available (libtorch without CUDA, or no GPU)";
    return "";
#else
    return "this build of mtl-torch has no Gloo: Gloo's headers were not found when it was compiled "
           "(install libgloo-dev, or Gloo's headers beside libtorch's, and rebuild)";
#endif
  }
  if (backend == "nccl") {
#if defined(MTL_WITH_NCCL)
    if (!device.is_cuda()) return "NCCL reduces CUDA tensors only, and the device is " + device.str();
    if (!at::hasCUDA()) return "NCCL needs a GPU, and CUDA is not available";
    return "";
#else
    return "this build of mtl-torch has no NCCL (it needs a CUDA libtorch and nccl.h when it is compiled)";
#endif
  }
  return "unknown backend '" + backend + "' (expected gloo or nccl)";
}

bool isLoopbackAddress(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]";
}

c10::intrusive_ptr<compat::CollectiveBackend> createBackend(const BackendSettings& settings, const c10::intrusive_ptr<c10d::Store>& store) {
  if (settings.backend == "gloo") {
#if defined(MTL_WITH_GLOO)
    auto options = c10d::ProcessGroupGloo::Options::create(settings.timeout);
    // Gloo binds one address and tells the others through the store. The default device resolves
    // this machine's hostname, which on a single machine can name an interface the others do not
    // reach (or none), so a loopback rendezvous keeps Gloo on loopback too.
    if (!settings.glooInterface.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(settings.glooInterface));
    } else if (isLoopbackAddress(settings.masterAddr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    // torch.distributed's default: two threads per device, so that two buckets reduce at once.
    options->threads = 2;
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, settings.rank, settings.size, options);
#endif
  }
  if (settings.backend == "nccl") {
#if defined(MTL_WITH_NCCL)
    // NCCL works on the current device; one GPU per rank (start-up refuses two ranks on one).
    c10::cuda::set_device(settings.device.index());
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = settings.timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, settings.rank, settings.size, options);
#endif
  }
  throw std::invalid_argument(backendProblem(settings.backend, c10::Device(c10::kCPU)));
}

void waitWork(const std::string& backend, const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout) {
  if (backend != "nccl") {
    // Gloo's own operations time out after the same timeout; this bound only guards the wait.
    work->wait(timeout);
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!work->isCompleted()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("the collective did not complete within " + std::to_string(timeout.count() / 1000.0) + " s");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  work->wait();  // rethrows the work's error; orders the current stream after it
}

}  // namespace mtl::distributed::detail
