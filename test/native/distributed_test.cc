// Tests of native/core/distributed: every test forks its ranks (2 or 3 processes) that meet on
// 127.0.0.1 through a port chosen here. Each rank runs a body and reports through a pipe what it
// returned ("" when its own checks passed) or what it threw; the parent asserts on the reports.
// The parent never runs a libtorch operation: libtorch's and OpenMP's thread pools do not survive
// fork, so all tensor work happens in the children.
//
// Build and run: cmake --build build --target mtl_distributed_tests && build/mtl_distributed_tests
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/distributed/gradient_reducer.h"
#include "core/distributed/process_group.h"
#include "core/host_memory.h"

namespace {

using namespace mtl::distributed;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A port nothing listens on now (the kernel's choice for an ephemeral bind, released at once).
int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

struct RankReport {
  int rank = 0;
  bool threw = false;       // the body threw; text is its message
  bool finished = false;    // the child closed its pipe before the parent's limit
  bool killed = false;      // ended by a signal
  int signal = 0;
  int exitCode = -1;
  double seconds = 0;       // from fork to the end of its report
  std::string text;
};

std::ostream& operator<<(std::ostream& out, const RankReport& r) {
  return out << "rank " << r.rank << (r.threw ? " threw: " : " returned: ") << r.text << " (" << r.seconds << " s"
             << (r.killed ? ", killed by signal " + std::to_string(r.signal) : ", exit " + std::to_string(r.exitCode)) << ")";
}

// Runs body(rank) in `ranks` forked processes. A body returns "" when its own checks passed.
std::vector<RankReport> runRanks(int ranks, const std::function<std::string(int)>& body, std::chrono::seconds limit = std::chrono::seconds(90)) {
  std::vector<RankReport> reports(ranks);
  std::vector<pid_t> pids(ranks);
  std::vector<int> fds(ranks);
  const auto started = Clock::now();
  for (int r = 0; r < ranks; ++r) {
    int pipeFds[2];
    if (::pipe(pipeFds) != 0) std::abort();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(pipeFds[0]);
      // As in Node, which runs the addon: a write to a peer that died fails with EPIPE (and gloo
      // reports it) instead of killing the rank with SIGPIPE before it can name the lost rank.
      ::signal(SIGPIPE, SIG_IGN);
      // As in the addon: freed CPU buffers are reused instead of page-faulted in again, which on
      // VMs like CI's costs more than the all-reduce of a fresh buffer itself.
      mtl::installHostAllocator();
      at::set_num_threads(1);
      std::string message;
      char status = 'O';
      try {
        message = body(r);
      } catch (const c10::Error& error) {
        status = 'E';
        message = error.what_without_backtrace();
      } catch (const std::exception& error) {
        status = 'E';
        message = error.what();
      }
      const std::string out = status + message;
      size_t written = 0;
      while (written < out.size()) {
        const ssize_t n = ::write(pipeFds[1], out.data() + written, out.size() - written);
        if (n <= 0) break;
        written += static_cast<size_t>(n);
      }
      ::close(pipeFds[1]);
      ::_exit(0);  // no atexit handlers or static destructors of the forked test runner
    }
    ::close(pipeFds[1]);
    pids[r] = pid;
    fds[r] = pipeFds[0];
    reports[r].rank = r;
  }
  std::vector<std::string> raw(ranks);
  int open = ranks;
  while (open > 0) {
    const auto left = limit - std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started);
    if (left.count() <= 0) break;
    std::vector<pollfd> polls;
    std::vector<int> which;
    for (int r = 0; r < ranks; ++r) {
      if (fds[r] >= 0) {
        polls.push_back({fds[r], POLLIN, 0});
        which.push_back(r);
      }
    }
    if (::poll(polls.data(), polls.size(), 200) <= 0) continue;
    for (size_t i = 0; i < polls.size(); ++i) {
      if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int r = which[i];
      char buffer[4096];
      const ssize_t n = ::read(fds[r], buffer, sizeof(buffer));
      if (n > 0) {
        raw[r].append(buffer, static_cast<size_t>(n));
      } else {
        ::close(fds[r]);
        fds[r] = -1;
        --open;
        reports[r].finished = true;
        reports[r].seconds = std::chrono::duration<double>(Clock::now() - started).count();
      }
    }
  }
  for (int r = 0; r < ranks; ++r) {
    if (fds[r] >= 0) {  // past the limit: a hang, which is itself the failure
      ::kill(pids[r], SIGKILL);
      ::close(fds[r]);
      reports[r].seconds = std::chrono::duration<double>(Clock::now() - started).count();
    }
    int status = 0;
    ::waitpid(pids[r], &status, 0);
    if (WIFSIGNALED(status)) {
      reports[r].killed = true;
      reports[r].signal = WTERMSIG(status);
    } else if (WIFEXITED(status)) {
      reports[r].exitCode = WEXITSTATUS(status);
    }
    if (!raw[r].empty()) {
      reports[r].threw = raw[r][0] == 'E';
      reports[r].text = raw[r].substr(1);
    }
  }
  return reports;
}

ProcessGroupOptions loopback(int rank, int worldSize, int port, milliseconds timeout = milliseconds(15000)) {
  ProcessGroupOptions options;
  options.masterAddr = "127.0.0.1";
  options.masterPort = port;
  options.rank = rank;
  options.worldSize = worldSize;
  options.timeout = timeout;
  options.heartbeatInterval = milliseconds(250);  // diagnosis in 0.75 s instead of 3 s
  return options;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Prints what each rank reported, so that a reader of the test log sees the messages a user gets.
void show(const std::vector<RankReport>& reports) {
  for (const auto& report : reports) std::cout << "[ message  ] " << report << std::endl;
}

#define EXPECT_RANK_OK(report) EXPECT_TRUE((report).finished && !(report).threw && (report).text.empty()) << (report)
#define EXPECT_RANK_THREW(report, part) \
  EXPECT_TRUE((report).finished && (report).threw && contains((report).text, part)) << "expected an error with \"" << (part) << "\"; " << (report)

// "" when a and b agree within tol everywhere, else a description.
std::string compare(const std::string& what, const at::Tensor& actual, const at::Tensor& expected, double tol) {
  if (!actual.defined() && !expected.defined()) return "";
  if (!actual.defined() || !expected.defined()) {
    return what + ": " + (actual.defined() ? "defined" : "undefined") + " vs expected " + (expected.defined() ? "defined" : "undefined") + "; ";
  }
  const double diff = (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
  if (diff > tol) {
    std::ostringstream out;
    out << what << ": max |difference| " << diff << " > " << tol << "; ";
    return out.str();
  }
  return "";
}

// A small multi-task model: a shared two-layer trunk and three linear heads. Every rank builds it
// from the same seed, so the replicas start identical, as DDP's broadcast of rank 0's weights
// would make them.
struct TinyMultiTask {
  at::Tensor w1, b1, w2, b2, headA, headB, headC;

  explicit TinyMultiTask(int64_t width = 32) {
    at::manual_seed(7);
    auto make = [](std::vector<int64_t> shape) { return (at::randn(shape) * 0.3).requires_grad_(true); };
    w1 = make({16, width});
    b1 = make({width});
    w2 = make({width, width});
    b2 = make({width});
    headA = make({width, 4});
    headB = make({width, 3});
    headC = make({width, 2});
  }
  std::vector<std::pair<std::string, at::Tensor>> named() const {
    return {{"trunk.0.weight", w1}, {"trunk.0.bias", b1}, {"trunk.1.weight", w2}, {"trunk.1.bias", b2},
            {"heads.a.weight", headA}, {"heads.b.weight", headB}, {"heads.c.weight", headC}};
  }
  std::vector<at::Tensor> tensors() const {
    std::vector<at::Tensor> out;
    for (const auto& [name, t] : named()) out.push_back(t);
    return out;
  }
  at::Tensor trunk(const at::Tensor& x) const { return at::tanh(at::matmul(at::tanh(at::matmul(x, w1) + b1), w2) + b2); }
  // Mean squared error of each head on its targets (the per-task losses of a step).
  at::Tensor lossA(const at::Tensor& x, const at::Tensor& y) const { return (at::matmul(trunk(x), headA) - y).pow(2).mean(); }
  at::Tensor lossB(const at::Tensor& x, const at::Tensor& y) const { return (at::matmul(trunk(x), headB) - y).pow(2).mean(); }
  void zeroGrad() const {
    for (auto t : tensors()) t.mutable_grad() = at::Tensor();
  }
};

// The global batch every run shares: rows [rank * rowsPerRank, (rank + 1) * rowsPerRank) are one
// rank's shard.
struct Batch {
  at::Tensor x, yA, yB;
  Batch shard(int rank, int64_t rows) const { return {x.narrow(0, rank * rows, rows), yA.narrow(0, rank * rows, rows), yB.narrow(0, rank * rows, rows)}; }
};
Batch globalBatch(int64_t rows, uint64_t seed = 11) {
  at::manual_seed(seed);
  return {at::randn({rows, 16}), at::randn({rows, 4}), at::randn({rows, 3})};
}

// The gradients one process gets for the mean of the shards' losses: what every rank must hold
// after the reduction.
std::vector<at::Tensor> referenceGradients(const TinyMultiTask& model, const Batch& batch, int ranks, int64_t rows,
                                           const std::function<at::Tensor(const TinyMultiTask&, const Batch&, int)>& lossOf) {
  const auto params = model.tensors();
  std::vector<at::Tensor> sum(params.size());
  for (int q = 0; q < ranks; ++q) {
    const at::Tensor loss = lossOf(model, batch.shard(q, rows), q);
    const auto grads = torch::autograd::grad({loss}, params, {}, c10::nullopt, false, /*allow_unused=*/true);
    for (size_t i = 0; i < params.size(); ++i) {
      if (!grads[i].defined()) continue;
      sum[i] = sum[i].defined() ? sum[i] + grads[i] : grads[i].clone();
    }
  }
  for (auto& g : sum) {
    if (g.defined()) g = g / static_cast<double>(ranks);
  }
  return sum;
}

std::string compareGradients(const TinyMultiTask& model, const std::vector<at::Tensor>& expected, double tol) {
  std::string problems;
  const auto named = model.named();
  for (size_t i = 0; i < named.size(); ++i) problems += compare(named[i].first, named[i].second.grad(), expected[i], tol);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Options from the environment (no ranks needed).

TEST(DistributedOptions, ReadsTheTorchrunVariablesAndNamesAMissingOne) {
  ::setenv("MASTER_ADDR", "10.1.2.3", 1);
  ::setenv("MASTER_PORT", "29512", 1);
  ::setenv("RANK", "3", 1);
  ::setenv("WORLD_SIZE", "4", 1);
  ::setenv("LOCAL_RANK", "1", 1);
  const ProcessGroupOptions options = optionsFromEnvironment();
  EXPECT_EQ(options.masterAddr, "10.1.2.3");
  EXPECT_EQ(options.masterPort, 29512);
  EXPECT_EQ(options.rank, 3);
  EXPECT_EQ(options.worldSize, 4);
  EXPECT_EQ(options.localRank, 1);
  EXPECT_TRUE(environmentHasRendezvous());

  ::setenv("MASTER_PORT", "70000", 1);
  try {
    optionsFromEnvironment();
    ADD_FAILURE() << "MASTER_PORT=70000 was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_TRUE(contains(error.what(), "MASTER_PORT='70000'")) << error.what();
  }
  ::unsetenv("MASTER_PORT");
  try {
    optionsFromEnvironment();
    ADD_FAILURE() << "a missing MASTER_PORT was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_TRUE(contains(error.what(), "MASTER_PORT is not set")) << error.what();
  }
  for (const char* name : {"MASTER_ADDR", "RANK", "WORLD_SIZE", "LOCAL_RANK"}) ::unsetenv(name);
  EXPECT_FALSE(environmentHasRendezvous());
}

TEST(DistributedOptions, RefusesARankOutsideTheWorld) {
  try {
    ProcessGroup group(loopback(2, 2, 29999));
    ADD_FAILURE() << "RANK=2 of WORLD_SIZE=2 was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_TRUE(contains(error.what(), "RANK=2 is outside 0..1")) << error.what();
  }
}

TEST(DistributedOptions, FingerprintIsStable) {
  EXPECT_EQ(fingerprint(""), "cbf29ce484222325");  // FNV-1a 64 offset basis
  EXPECT_EQ(fingerprint("a"), "af63dc4c8601ec8c");
  EXPECT_NE(fingerprint("config 1"), fingerprint("config 2"));
}

// ---------------------------------------------------------------------------------------------
// Collectives.

std::string collectivesBody(int rank, int world, int port, bool fromEnvironment) {
  ProcessGroupOptions options = loopback(rank, world, port);
  if (fromEnvironment) {
    // As torchrun would start this process.
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    ::setenv("RANK", std::to_string(rank).c_str(), 1);
    ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    ProcessGroupOptions base;
    base.timeout = options.timeout;
    base.heartbeatInterval = options.heartbeatInterval;
    options = optionsFromEnvironment(base);
  }
  ProcessGroup group(options);
  std::string problems;
  if (group.rank() != rank || group.size() != world || group.backendName() != "gloo") problems += "rank/size/backend; ";

  // Sum and mean over tensors of three dtypes in one call.
  const double r = rank;
  std::vector<at::Tensor> values{at::tensor({r + 1, 2 * (r + 1)}, at::kFloat), at::tensor(r, at::kDouble), at::tensor({int64_t(rank), int64_t(10)}, at::kLong),
                                 at::full({2, 2}, r, at::kFloat)};
  group.allReduceSum(values);
  const double n = world, sumRanks = n * (n - 1) / 2;
  problems += compare("sum float", values[0], at::tensor({sumRanks + n, 2 * (sumRanks + n)}), 0);
  problems += compare("sum double", values[1], at::tensor(sumRanks, at::kDouble), 0);
  problems += compare("sum long", values[2], at::tensor({int64_t(sumRanks), int64_t(10 * world)}, at::kLong), 0);
  problems += compare("sum float 2x2", values[3], at::full({2, 2}, sumRanks), 0);

  std::vector<at::Tensor> losses{at::tensor({r, 10 * r}, at::kFloat), at::tensor(1.5 * r).to(at::kBFloat16)};
  group.allReduceMean(losses);
  problems += compare("mean float", losses[0], at::tensor({sumRanks / n, 10 * sumRanks / n}), 1e-6);
  problems += compare("mean bfloat16", losses[1], at::tensor(1.5 * sumRanks / n), 1e-2);
  std::vector<at::Tensor> counts{at::tensor(int64_t(1))};
  try {
    group.allReduceMean(counts);
    problems += "the mean of an integer tensor was accepted; ";
  } catch (const std::invalid_argument&) {
  }

  std::vector<at::Tensor> shared{at::full({3}, r), at::tensor(int64_t(100 + rank))};
  group.broadcast(shared, world - 1);
  problems += compare("broadcast float", shared[0], at::full({3}, double(world - 1)), 0);
  problems += compare("broadcast long", shared[1], at::tensor(int64_t(100 + world - 1)), 0);

  // Rank q holds q + 1 rows of value q.
  at::Tensor rows = group.allGatherRows(at::full({rank + 1, 2}, r));
  std::vector<at::Tensor> expected;
  for (int q = 0; q < world; ++q) expected.push_back(at::full({q + 1, 2}, double(q)));
  problems += compare("allGatherRows", rows, at::cat(expected), 0);
  if (rows.size(0) != world * (world + 1) / 2) problems += "allGatherRows row count; ";

  group.barrier();
  group.compareConfig(fingerprint("the same config"));
  return problems;
}

TEST(DistributedCollectives, TwoRanksFromTheTorchrunEnvironment) {
  const int port = freePort();
  for (const auto& report : runRanks(2, [&](int rank) { return collectivesBody(rank, 2, port, true); })) EXPECT_RANK_OK(report);
}

TEST(DistributedCollectives, ThreeRanks) {
  const int port = freePort();
  for (const auto& report : runRanks(3, [&](int rank) { return collectivesBody(rank, 3, port, false); })) EXPECT_RANK_OK(report);
}

// Loopback timings of the collectives the trainer uses, printed for the record (the sums are
// checked, the times are not asserted: the machine may be shared).
TEST(DistributedCollectives, TimesATenMegabyteAllReduce) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroup group(loopback(rank, 2, port));
    const int64_t floats = 10 * 1024 * 1024 / 4;
    std::vector<at::Tensor> buffer{at::full({floats}, 1.0f)};
    group.allReduceSum(buffer);  // warm-up: the first collective pays for buffers and pairs
    const int repeats = 10;
    const auto started = Clock::now();
    for (int i = 0; i < repeats; ++i) {
      buffer[0].fill_(double(rank + 1));
      group.allReduceSum(buffer);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count() / repeats;
    std::string problems = compare("10 MB sum", buffer[0].narrow(0, 0, 1024), at::full({1024}, 3.0), 0);

    // The same 10 MB as the gradient of one parameter, through the reducer (one bucket).
    at::Tensor weight = at::zeros({floats}, at::kFloat).requires_grad_(true);
    auto shared = std::shared_ptr<ProcessGroup>(&group, [](ProcessGroup*) {});
    GradientReducer reducer(shared, {{"weight", weight}});
    double reduceSeconds = 0;
    for (int i = 0; i < repeats + 1; ++i) {
      weight.mutable_grad() = at::Tensor();
      const at::Tensor loss = (weight * double(rank + 1)).sum();
      reducer.prepareForBackward({loss});
      loss.backward();
      reducer.finishBackward();
      if (i > 0) reduceSeconds += reducer.stats().lastFinishSeconds;
    }
    problems += compare("10 MB gradient", weight.grad().narrow(0, 0, 1024), at::full({1024}, 1.5), 0);
    if (rank == 0) {
      std::cout << "[ timing ] 2 ranks on loopback: all-reduce of 10 MB float32 " << seconds * 1e3 << " ms (" << 10.0 / seconds
                << " MB/s); gradient reducer finishBackward for a 10 MB gradient " << reduceSeconds / repeats * 1e3 << " ms" << std::endl;
    }
    return problems;
  });
  for (const auto& report : reports) EXPECT_RANK_OK(report);
}

// A backward pass of a 16 MB model (four 1024x1024 layers), per step: without reduction, with the
// bucketed reducer (default and 4 MB buckets), and with one all-reduce of every gradient after
// backward. Printed for the record; the reducer's gradients are checked against the plain
// all-reduce's.
TEST(DistributedCollectives, TimesTheBucketedReductionOfABackwardPass) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 2, port, milliseconds(60000)));
    at::manual_seed(3);
    std::vector<std::pair<std::string, at::Tensor>> named;
    for (int layer = 0; layer < 4; ++layer) {
      named.push_back({"layers." + std::to_string(layer) + ".weight", (at::randn({1024, 1024}) * 0.03).requires_grad_(true)});
      named.push_back({"layers." + std::to_string(layer) + ".bias", at::zeros({1024}).requires_grad_(true)});
    }
    at::manual_seed(100 + rank);
    const at::Tensor input = at::randn({32, 1024});
    auto lossOf = [&] {
      at::Tensor h = input;
      for (int layer = 0; layer < 4; ++layer) h = at::tanh(at::addmm(named[2 * layer + 1].second, h, named[2 * layer].second));
      return h.pow(2).mean();
    };
    auto zero = [&] {
      for (auto& [name, p] : named) p.mutable_grad() = at::Tensor();
    };
    // The modes take turns, round after round, and each reports its median: the machine may be
    // busy with other work, which should not favour whichever mode ran first.
    GradientReducerOptions large, small;
    small.bucketBytes = 4 * 1024 * 1024;
    GradientReducer reducer25(group, named, large), reducer4(group, named, small);
    std::vector<at::Tensor> afterward;
    auto bucketed = [&](GradientReducer& reducer) {
      zero();
      const at::Tensor loss = lossOf();
      reducer.prepareForBackward({loss});
      loss.backward();
      reducer.finishBackward();
    };
    const std::vector<std::function<void()>> modes = {
        [&] {
          zero();
          lossOf().backward();
        },
        [&] {
          zero();
          lossOf().backward();
          std::vector<at::Tensor> grads;
          for (auto& [name, p] : named) grads.push_back(p.grad());
          group->allReduceMean(grads);
          afterward = grads;
        },
        [&] { bucketed(reducer25); },
        [&] { bucketed(reducer4); }};
    std::vector<std::vector<double>> times(modes.size());
    for (int round = 0; round < 9; ++round) {
      for (size_t m = 0; m < modes.size(); ++m) {
        const auto started = Clock::now();
        modes[m]();
        if (round >= 2) times[m].push_back(std::chrono::duration<double>(Clock::now() - started).count() * 1e3);
      }
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    std::string problems;
    modes[1]();
    const auto reference = afterward;
    for (GradientReducer* reducer : {&reducer25, &reducer4}) {
      bucketed(*reducer);
      for (size_t i = 0; i < named.size(); ++i) problems += compare(named[i].first, named[i].second.grad(), reference[i], 1e-6);
    }
    std::ostringstream line;
    line << "[ timing ] 2 ranks, 16 MB model, median ms per backward: no reduction " << median(times[0]) << ", one all-reduce after backward "
         << median(times[1]) << ", reducer with 25 MB buckets (" << reducer25.stats().buckets << " buckets, " << reducer25.stats().launchedDuringBackward
         << " launched during backward) " << median(times[2]) << ", reducer with 4 MB buckets (" << reducer4.stats().buckets << " buckets, "
         << reducer4.stats().launchedDuringBackward << " launched during backward) " << median(times[3]);
    if (rank == 0) std::cout << line.str() << std::endl;
    return problems;
  });
  for (const auto& report : reports) EXPECT_RANK_OK(report);
}

// ---------------------------------------------------------------------------------------------
// Bucketed gradient reduction.

// Each rank's loss is task A plus task B on its shard; task C trains in no step here.
at::Tensor jointLoss(const TinyMultiTask& model, const Batch& shard, int) { return model.lossA(shard.x, shard.yA) + model.lossB(shard.x, shard.yB); }

std::string bucketedBody(int rank, int world, int port, bool withRoots) {
  auto group = std::make_shared<ProcessGroup>(loopback(rank, world, port));
  TinyMultiTask model;
  const int64_t rows = 6;
  const Batch batch = globalBatch(rows * world);
  GradientReducerOptions options;
  options.bucketBytes = 1024;      // several buckets for this small model
  options.firstBucketBytes = 256;
  GradientReducer reducer(group, model.named(), options);
  std::string problems;
  if (reducer.bucketAssignment().size() < 4) problems += "expected at least 4 buckets, got " + std::to_string(reducer.bucketAssignment().size()) + "; ";

  for (int step = 0; step < 3; ++step) {
    const auto expected = referenceGradients(model, batch, world, rows, jointLoss);
    model.zeroGrad();
    const at::Tensor loss = jointLoss(model, batch.shard(rank, rows), rank);
    if (withRoots) reducer.prepareForBackward({loss});
    else reducer.prepareForBackward();
    loss.backward();
    reducer.finishBackward();
    problems += compareGradients(model, expected, 1e-6);
    if (model.headC.grad().defined()) problems += "head C, which no rank used, has a gradient; ";
    if (withRoots && reducer.stats().launchedDuringBackward != static_cast<int64_t>(reducer.bucketAssignment().size())) {
      problems += "only " + std::to_string(reducer.stats().launchedDuringBackward) + " buckets launched before finishBackward; ";
    }
    // An SGD step from the reduced gradients keeps the replicas identical.
    at::NoGradGuard noGrad;
    for (auto p : model.tensors()) {
      if (p.grad().defined()) p.sub_(p.grad() * 0.1);
    }
  }
  std::vector<at::Tensor> fromRank0;
  for (auto p : model.tensors()) fromRank0.push_back(p.detach().clone());
  group->broadcast(fromRank0, 0);
  const auto params = model.tensors();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!at::equal(params[i].detach(), fromRank0[i])) problems += "parameter " + std::to_string(i) + " differs from rank 0's after 3 steps; ";
  }
  return problems;
}

TEST(DistributedGradients, BucketedAverageMatchesOneProcessTwoRanks) {
  const int port = freePort();
  for (const auto& report : runRanks(2, [&](int rank) { return bucketedBody(rank, 2, port, true); })) EXPECT_RANK_OK(report);
}

TEST(DistributedGradients, BucketedAverageMatchesOneProcessThreeRanks) {
  const int port = freePort();
  for (const auto& report : runRanks(3, [&](int rank) { return bucketedBody(rank, 3, port, true); })) EXPECT_RANK_OK(report);
}

TEST(DistributedGradients, WithoutRootsEveryBucketLaunchesAtFinish) {
  const int port = freePort();
  for (const auto& report : runRanks(2, [&](int rank) { return bucketedBody(rank, 2, port, false); })) EXPECT_RANK_OK(report);
}

// Rank 0 trains tasks A and B, rank 1 task A only (their graphs differ, as under a mixture of
// experts whose routing differs by shard): head B is averaged on both ranks (rank 1 contributes
// zeros and receives the average), head C keeps no gradient anywhere, and the collectives still
// pair up.
TEST(DistributedGradients, ParametersUnusedOnSomeRanksAreAveragedAndUnusedEverywhereStayUndefined) {
  const int port = freePort();
  auto lossOf = [](const TinyMultiTask& model, const Batch& shard, int rank) {
    return rank == 0 ? model.lossA(shard.x, shard.yA) + model.lossB(shard.x, shard.yB) : model.lossA(shard.x, shard.yA);
  };
  const auto reports = runRanks(2, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 2, port));
    TinyMultiTask model;
    const Batch batch = globalBatch(8);
    GradientReducerOptions options;
    options.bucketBytes = 512;
    options.firstBucketBytes = 128;
    GradientReducer reducer(group, model.named(), options);
    std::string problems;
    for (bool withRoots : {true, false}) {
      const auto expected = referenceGradients(model, batch, 2, 4, lossOf);
      model.zeroGrad();
      const at::Tensor loss = lossOf(model, batch.shard(rank, 4), rank);
      if (withRoots) reducer.prepareForBackward({loss});
      else reducer.prepareForBackward();
      loss.backward();
      reducer.finishBackward();
      problems += compareGradients(model, expected, 1e-6);
      if (!model.headB.grad().defined()) problems += "head B has no gradient on rank " + std::to_string(rank) + "; ";
      if (model.headC.grad().defined()) problems += "head C has a gradient; ";
    }
    return problems;
  });
  for (const auto& report : reports) EXPECT_RANK_OK(report);
}

// Gradient accumulation: the reducer is armed for the last micro-batch only. Head B trained in the
// first micro-batch alone; its accumulated gradient is reduced although the last graph does not
// reach it.
TEST(DistributedGradients, AccumulatedGradientsOfEarlierMicroBatchesAreReduced) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 2, port));
    TinyMultiTask model;
    const Batch first = globalBatch(8, 21), second = globalBatch(8, 22);
    GradientReducer reducer(group, model.named());
    auto both = [&](const TinyMultiTask& m, const Batch&, int q) {
      return m.lossB(first.shard(q, 4).x, first.shard(q, 4).yB) + m.lossA(second.shard(q, 4).x, second.shard(q, 4).yA);
    };
    const auto expected = referenceGradients(model, first, 2, 4, both);
    model.zeroGrad();
    model.lossB(first.shard(rank, 4).x, first.shard(rank, 4).yB).backward();  // not armed: stays local
    const at::Tensor last = model.lossA(second.shard(rank, 4).x, second.shard(rank, 4).yA);
    reducer.prepareForBackward({last});
    last.backward();
    reducer.finishBackward();
    return compareGradients(model, expected, 1e-6);
  });
  for (const auto& report : reports) EXPECT_RANK_OK(report);
}

// A gradient edited after the reducer took it would be silently lost: refused, naming it.
TEST(DistributedGradients, AGradientChangedAfterItWasTakenIsRefused) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 2, port));
    TinyMultiTask model;
    const Batch batch = globalBatch(8);
    GradientReducer reducer(group, model.named());
    model.zeroGrad();
    const at::Tensor loss = model.lossA(batch.x, batch.yA);
    reducer.prepareForBackward({loss});
    loss.backward();
    model.headA.mutable_grad().mul_(2);
    reducer.finishBackward();
    return std::string("finishBackward accepted an edited gradient");
  });
  for (const auto& report : reports) EXPECT_RANK_THREW(report, "'heads.a.weight'");
}

TEST(DistributedGradients, ACollectiveInsideTheReductionIsRefused) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 2, port));
    TinyMultiTask model;
    GradientReducer reducer(group, model.named());
    reducer.prepareForBackward();
    std::vector<at::Tensor> losses{at::tensor(1.0)};
    try {
      group->allReduceMean(losses);
      return std::string("an all-reduce between prepareForBackward and finishBackward was accepted");
    } catch (const std::logic_error& error) {
      if (!contains(error.what(), "prepareForBackward")) return std::string("unexpected message: ") + error.what();
    }
    reducer.finishBackward();  // nothing had a gradient: every parameter stays undefined
    group->allReduceMean(losses);
    return model.headA.grad().defined() ? std::string("a parameter without gradient got one") : std::string();
  });
  for (const auto& report : reports) EXPECT_RANK_OK(report);
}

TEST(DistributedGradients, DifferentModelsAcrossRanksAreRefusedAtConstruction) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 2, port));
    TinyMultiTask model(rank == 0 ? 32 : 24);
    GradientReducer reducer(group, model.named());
    return std::string("the reducer accepted different models");
  });
  for (const auto& report : reports) EXPECT_RANK_THREW(report, "parameter layout");
  for (const auto& report : reports) EXPECT_RANK_THREW(report, "rank 1");
}

// ---------------------------------------------------------------------------------------------
// Faults: loud, named, bounded.

const milliseconds kFaultTimeout(10000);

TEST(DistributedFaults, AKilledRankIsNamedByTheOtherWithinTheTimeout) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroup group(loopback(rank, 2, port, kFaultTimeout));
    std::vector<at::Tensor> values{at::ones({1 << 20})};
    group.allReduceSum(values);
    if (rank == 1) ::raise(SIGKILL);
    const auto started = Clock::now();
    try {
      for (int i = 0; i < 100; ++i) group.allReduceSum(values);
    } catch (const DistributedError& error) {
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      throw DistributedError(std::string(error.what()) + " {after " + std::to_string(seconds) + " s}");
    }
    return std::string("100 all-reduces succeeded with rank 1 killed");
  });
  show(reports);
  EXPECT_TRUE(reports[1].killed && reports[1].signal == SIGKILL) << reports[1];
  EXPECT_RANK_THREW(reports[0], "rank 1 is lost");
  EXPECT_LT(reports[0].seconds, kFaultTimeout.count() / 1000.0) << reports[0];
}

// Three ranks, rank 2 killed while the others are in the bucketed reduction of a backward pass.
TEST(DistributedFaults, ARankKilledDuringTheGradientReductionIsNamedByBothOthers) {
  const int port = freePort();
  const auto reports = runRanks(3, [&](int rank) {
    auto group = std::make_shared<ProcessGroup>(loopback(rank, 3, port, kFaultTimeout));
    TinyMultiTask model(256);
    const Batch batch = globalBatch(12);
    GradientReducer reducer(group, model.named());
    for (int step = 0; step < 50; ++step) {
      if (rank == 2 && step == 3) ::raise(SIGKILL);
      model.zeroGrad();
      const at::Tensor loss = jointLoss(model, batch.shard(rank, 4), rank);
      reducer.prepareForBackward({loss});
      loss.backward();
      reducer.finishBackward();
    }
    return std::string("50 steps succeeded with rank 2 killed");
  });
  show(reports);
  EXPECT_TRUE(reports[2].killed) << reports[2];
  for (int r : {0, 1}) {
    EXPECT_RANK_THREW(reports[r], "rank 2 is lost");
    EXPECT_RANK_THREW(reports[r], "gradient all-reduce");
    EXPECT_LT(reports[r].seconds, kFaultTimeout.count() / 1000.0) << reports[r];
  }
}

// Rank 0 serves the store: the others must name it although the store died with it.
TEST(DistributedFaults, AKilledRankZeroIsNamed) {
  const int port = freePort();
  const auto reports = runRanks(3, [&](int rank) {
    ProcessGroup group(loopback(rank, 3, port, kFaultTimeout));
    std::vector<at::Tensor> values{at::ones({1 << 16})};
    group.allReduceSum(values);
    if (rank == 0) ::raise(SIGKILL);
    for (int i = 0; i < 100; ++i) group.allReduceSum(values);
    return std::string("100 all-reduces succeeded with rank 0 killed");
  });
  show(reports);
  EXPECT_TRUE(reports[0].killed) << reports[0];
  for (int r : {1, 2}) {
    EXPECT_RANK_THREW(reports[r], "rank 0 is lost");
    EXPECT_LT(reports[r].seconds, kFaultTimeout.count() / 1000.0) << reports[r];
  }
}

// A rank that fails on its own (bad data, a NaN it cannot skip) says why before it leaves.
TEST(DistributedFaults, ARankThatAbortsIsNamedWithItsReason) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroup group(loopback(rank, 2, port, kFaultTimeout));
    std::vector<at::Tensor> values{at::ones({16})};
    group.allReduceSum(values);
    if (rank == 1) {
      group.abort("shard 3 of task 'sst2' is truncated");
      throw std::runtime_error("rank 1 stops");
    }
    for (int i = 0; i < 100; ++i) group.allReduceSum(values);
    return std::string("100 all-reduces succeeded after rank 1 aborted");
  });
  show(reports);
  EXPECT_RANK_THREW(reports[1], "rank 1 stops");
  EXPECT_RANK_THREW(reports[0], "rank 1 failed: shard 3 of task 'sst2' is truncated");
  EXPECT_LT(reports[0].seconds, kFaultTimeout.count() / 1000.0) << reports[0];
}

// A rank that is alive but does not come to the collective (stuck, or calling other collectives)
// must not hang the others: they fail after the timeout and say that every rank is alive.
TEST(DistributedFaults, AStalledRankEndsTheOthersWaitAfterTheTimeout) {
  const int port = freePort();
  const milliseconds timeout(2000);
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroup group(loopback(rank, 2, port, timeout));
    std::vector<at::Tensor> values{at::ones({16})};
    group.allReduceSum(values);
    if (rank == 1) ::usleep(5000 * 1000);
    group.allReduceSum(values);
    return std::string("the all-reduce completed");
  });
  show(reports);
  EXPECT_RANK_THREW(reports[0], "every rank is alive, so the ranks are out of step");
  // The timeout, the diagnosis (3 heartbeats) and rank 0's wait for its partner's diagnosis
  // (at most 3 heartbeats + 2 s, bounded by the timeout) before it closes the store.
  EXPECT_GT(reports[0].seconds, 2.0) << reports[0];
  EXPECT_LT(reports[0].seconds, 2.0 + 0.75 + 2.0 + 1.5) << reports[0];
  EXPECT_TRUE(reports[1].finished && reports[1].threw) << reports[1];  // its partner has left
}

// ---------------------------------------------------------------------------------------------
// Start-up checks.

TEST(DistributedStartup, WorldSizeMismatchFailsOnEveryRank) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroup group(loopback(rank, rank == 0 ? 2 : 3, port));
    return std::string("joined a group of ") + std::to_string(group.size());
  });
  show(reports);
  for (const auto& report : reports) {
    EXPECT_RANK_THREW(report, "WORLD_SIZE differs: rank 0 has 2, rank 1 has 3");
    EXPECT_LT(report.seconds, 10.0) << report;  // found at once, not after the 15 s timeout
  }
}

TEST(DistributedStartup, ConfigHashMismatchNamesTheRanksThatDiffer) {
  const int port = freePort();
  const auto reports = runRanks(3, [&](int rank) {
    ProcessGroup group(loopback(rank, 3, port));
    group.compareConfig(rank == 1 ? "bbbb" : "aaaa");
    return std::string("the config hashes were accepted");
  });
  show(reports);
  for (const auto& report : reports) {
    EXPECT_RANK_THREW(report, "config hash differs across ranks (rank 1 differs from rank 0)");
    EXPECT_RANK_THREW(report, "ranks 0, 2 have 'aaaa'; rank 1 has 'bbbb'");
  }
}

TEST(DistributedStartup, MixedBackendsAreRefused) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroupOptions options = loopback(rank, 2, port);
    options.backend = rank == 0 ? "gloo" : "nccl";
    ProcessGroup group(options);
    return std::string("joined with mixed backends");
  });
  show(reports);
  for (const auto& report : reports) EXPECT_RANK_THREW(report, "the backend differs: rank 0 has gloo, rank 1 has nccl");
}

TEST(DistributedStartup, MixedDevicesAreRefused) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroupOptions options = loopback(rank, 2, port);
    options.backend = "gloo";
    options.device = rank == 0 ? "cpu" : "cuda";
    ProcessGroup group(options);
    return std::string("joined with mixed devices");
  });
  show(reports);
  for (const auto& report : reports) EXPECT_RANK_THREW(report, "the device type differs: rank 0 has cpu, rank 1 has cuda");
}

// Checked from the records alone, so it runs without a GPU (where each rank also reports that
// CUDA is missing).
TEST(DistributedStartup, TwoRanksOnOneGpuAreRefused) {
  const int port = freePort();
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroupOptions options = loopback(rank, 2, port);
    options.backend = "gloo";
    options.device = "cuda";
    options.localRank = 0;
    ProcessGroup group(options);
    return std::string("joined with two ranks on cuda:0");
  });
  show(reports);
  for (const auto& report : reports) EXPECT_RANK_THREW(report, "ranks 0 and 1 both use cuda:0 on");
}

TEST(DistributedStartup, ARankStartedTwiceIsRefused) {
  const int port = freePort();
  const auto reports = runRanks(3, [&](int process) {
    const int rank = process == 0 ? 0 : 1;  // processes 1 and 2 both claim rank 1
    if (process == 2) ::usleep(300 * 1000);  // usually the second claim (on a loaded machine, maybe not)
    ProcessGroup group(loopback(rank, 2, port, milliseconds(5000)));
    ::usleep(1500 * 1000);  // rank 0 keeps serving the store while the second claim arrives
    return std::string();
  });
  show(reports);
  // Whichever claim reached the store second is refused; the first joins with rank 0.
  const bool secondLost = reports[2].threw;
  EXPECT_RANK_THREW(reports[secondLost ? 2 : 1], "RANK=1 is already taken by process");
  EXPECT_RANK_OK(reports[0]);
  EXPECT_RANK_OK(reports[secondLost ? 1 : 2]);
}

TEST(DistributedStartup, AWrongPortTimesOutWithAClearMessage) {
  const int port = freePort(), wrong = freePort();
  const milliseconds timeout(3000);
  const auto reports = runRanks(2, [&](int rank) {
    ProcessGroup group(loopback(rank, 2, rank == 0 ? port : wrong, timeout));
    return std::string("joined through the wrong port");
  });
  show(reports);
  EXPECT_RANK_THREW(reports[1], "rank 1 could not reach the rendezvous store at 127.0.0.1:" + std::to_string(wrong) + " within 3 s");
  EXPECT_RANK_THREW(reports[0], "rank 1 did not join the rendezvous");
  for (const auto& report : reports) EXPECT_LT(report.seconds, 10.0) << report;
  // Not before the timeout (libtorch's connect loop gives up when less than its retry delay is
  // left, so somewhat earlier than the full 3 s).
  EXPECT_GT(reports[1].seconds, 1.5) << reports[1];
  EXPECT_GT(reports[0].seconds, 2.5) << reports[0];
}

}  // namespace
