// A data-parallel process group on libtorch's own distributed engine (c10d): ranks meet through a
// c10d::TCPStore that rank 0 hosts (the torchrun variables MASTER_ADDR, MASTER_PORT, RANK,
// WORLD_SIZE, LOCAL_RANK), then run collectives through c10d's Gloo backend (CPU) or NCCL backend
// (CUDA, in builds against a CUDA libtorch).
//
// Faults are loud, never hangs. Every store wait and collective is bounded by the group's timeout.
// When one fails, the group finds out why through the store before it throws: each rank's
// heartbeat thread bumps a counter in the store every heartbeatInterval, so a rank whose counter
// stopped moving is named as lost (a killed process), a rank that published a failure with
// abort() is named with its message, and when every rank is alive the ranks are out of step.
// Start-up refuses mismatched world sizes, backends, devices and libtorch versions, ranks claimed
// twice, and a store that cannot be reached, each with a message that names the ranks involved.
//
// Every collective must be called by every rank, in the same order, with tensors of the same
// shapes: that is the contract of c10d itself, and the trainer keeps it by running the same task
// plan on every rank.
#pragma once
#include <ATen/ATen.h>
#include <c10/util/intrusive_ptr.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace c10d {
class Work;
}

namespace mtl::distributed {

// Every failure of a process group: a lost or failed rank, a timeout, a start-up mismatch.
struct DistributedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ProcessGroupOptions {
  // The rendezvous, as torchrun sets it in the environment (see optionsFromEnvironment).
  std::string masterAddr;  // host of rank 0, which serves the store
  int masterPort = 0;      // 1..65535
  int rank = -1;           // 0..worldSize-1
  int worldSize = 0;
  int localRank = -1;  // rank on this machine (the CUDA device index under NCCL); -1: rank
  // "auto" picks NCCL for a CUDA device when this build has it, Gloo otherwise.
  std::string backend = "auto";  // auto | gloo | nccl
  // Where the collectives' tensors live: "cpu", "cuda" (meaning cuda:localRank) or "cuda:N".
  std::string device = "cpu";
  // Bounds every store operation and collective: a peer that does not answer within it is an error.
  std::chrono::milliseconds timeout{60000};
  // How often each rank proves it is alive through the store; a failure is diagnosed by watching
  // the other ranks' heartbeats for three intervals.
  std::chrono::milliseconds heartbeatInterval{1000};
  // Network interface Gloo binds to (GLOO_SOCKET_IFNAME). Empty: the loopback address when
  // masterAddr is a loopback address, else the address this machine's hostname resolves to.
  std::string glooInterface;
};

// `base` with the torchrun variables applied: MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE are
// required, LOCAL_RANK and GLOO_SOCKET_IFNAME optional. Throws std::invalid_argument naming a
// variable that is missing or malformed.
ProcessGroupOptions optionsFromEnvironment(ProcessGroupOptions base = {});
// Whether the environment holds a rendezvous (WORLD_SIZE is set).
bool environmentHasRendezvous();

// A stable 64-bit FNV-1a fingerprint of `text` as 16 hex digits, for compareConfig.
std::string fingerprint(const std::string& text);

// Which collective backends this build of mtl-torch can create ("gloo", "nccl").
std::vector<std::string> availableBackends();

class GradientReducer;

class ProcessGroup {
 public:
  // Joins the group: store rendezvous, the start-up checks, then the backend's own connections.
  // Throws DistributedError (start-up mismatches, unreachable store, missing ranks) or
  // std::invalid_argument (options that cannot be right on any rank).
  explicit ProcessGroup(ProcessGroupOptions options);
  // Leaves the group. After a clean run, rank 0 waits (up to the timeout) until every rank has
  // left, so that the store it hosts outlives the others' last use of it.
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int size() const;
  int localRank() const;
  const std::string& backendName() const;  // gloo | nccl
  c10::Device device() const;              // cpu, or cuda:localRank
  std::chrono::milliseconds timeout() const;

  // In place on every tensor, one collective per dtype (tensors are packed into one flat buffer
  // per dtype, in order of first appearance). Mean divides the sum by the world size and takes
  // floating-point tensors only. Tensors may live anywhere; they are moved to device() for the
  // collective and back.
  void allReduceSum(std::vector<at::Tensor>& tensors);
  void allReduceMean(std::vector<at::Tensor>& tensors);
  // Every rank's tensors become root's.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  // The rows (dim 0) of every rank's `local`, concatenated in rank order; ranks may hold
  // different numbers of rows, the other dimensions and the dtype must agree. For metrics that
  // need every prediction (Spearman, F1 over the whole evaluation set).
  at::Tensor allGatherRows(const at::Tensor& local);
  void barrier();

  // Every rank publishes `value` under `what` through the store; unless all are equal, every rank
  // throws a DistributedError naming the ranks that differ. For the run's config hash (use
  // fingerprint()), the model's parameter layout, the data shards' sizes.
  void compareConfig(const std::string& value, const std::string& what = "config hash");

  // Tells the other ranks that this rank is failing, and why, before it throws or exits: their
  // next failed collective names this rank with `reason` instead of calling it lost. The group
  // refuses further collectives.
  void abort(const std::string& reason);

  // For the gradient reducer: an asynchronous sum all-reduce of one tensor on device(), and the
  // bounded wait for it (a failure throws the diagnosed DistributedError; `what` names the
  // collective in the message).
  c10::intrusive_ptr<c10d::Work> allReduceSumAsync(at::Tensor& tensor, const std::string& what);
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);

  // Why collectives fail now, as a sentence naming ranks (see the file comment). Takes up to three
  // heartbeat intervals. Public for tests and for callers that caught a non-distributed error.
  std::string diagnose();

  // The dtype a tensor of `type` travels in: Gloo in libtorch 1.13 sums neither bfloat16 nor bool,
  // so those go as float32 (which holds every bfloat16 exactly) and uint8.
  c10::ScalarType communicationType(c10::ScalarType type) const;

 private:
  friend class GradientReducer;
  struct Impl;
  void join(const std::string& problem);
  // Between a reducer's prepareForBackward and finishBackward its buckets launch whenever
  // backward fills them, at points that differ between ranks, so any other collective there would
  // pair with a different collective on another rank. The reducer marks that span; the other
  // collectives refuse to run inside it.
  void setReductionInFlight(bool inFlight);
  [[noreturn]] void fail(const std::string& what, const std::string& cause);
  void checkUsable() const;
  void checkOrder() const;
  void reduce(std::vector<at::Tensor>& tensors, bool mean);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mtl::distributed
