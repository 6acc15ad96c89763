// Creating c10d's collective backends (Gloo, NCCL) and waiting on their work. backends.cc is the
// only file that includes the backends' own headers: ProcessGroupGloo.hpp needs Gloo's headers
// (Debian's libgloo-dev; PyTorch wheels do not ship them) and ProcessGroupNCCL.hpp needs nccl.h
// and CUDA's headers, so a build without them still compiles and says at run time what is missing.
#pragma once
#include <ATen/ATen.h>
#include <c10/util/intrusive_ptr.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/compat.h"

namespace c10d {
class Store;
class Work;
}  // namespace c10d

namespace mtl::distributed::detail {

// The backends this build can create ("gloo", "nccl").
std::vector<std::string> availableBackends();

// Why `backend` cannot serve tensors on `device` in this process ("" when it can).
std::string backendProblem(const std::string& backend, const c10::Device& device);

struct BackendSettings {
  std::string backend;  // gloo | nccl
  int rank = 0;
  int size = 1;
  c10::Device device{c10::kCPU};  // NCCL's GPU
  std::chrono::milliseconds timeout{60000};
  std::string masterAddr;     // Gloo binds to the loopback address when this is one
  std::string glooInterface;  // or to this interface
};

// Connects this rank's backend to the others' through `store` (a store scoped to the backend).
c10::intrusive_ptr<compat::CollectiveBackend> createBackend(const BackendSettings& settings, const c10::intrusive_ptr<c10d::Store>& store);

// Waits for `work` at most `timeout`, rethrowing the backend's error. Gloo's wait blocks the host;
// NCCL's only orders the current CUDA stream after the collective in 2.x (and can block forever on
// a lost peer in both versions), so NCCL work is polled with isCompleted() against the deadline.
void waitWork(const std::string& backend, const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout);

bool isLoopbackAddress(const std::string& host);

}  // namespace mtl::distributed::detail
