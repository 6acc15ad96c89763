#include "core/distributed/process_group.h"

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "core/distributed/backends.h"

namespace mtl::distributed {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A c10::Error's message without the C++ backtrace libtorch 1.13 appends to what(), and without
// a final period (it is quoted inside a sentence).
std::string shortMessage(const std::exception& error) {
  const auto* c10Error = dynamic_cast<const c10::Error*>(&error);
  std::string message = c10Error ? c10Error->what_without_backtrace() : error.what();
  while (!message.empty() && (message.back() == '.' || message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

std::string seconds(milliseconds duration) {
  std::ostringstream out;
  out << static_cast<double>(duration.count()) / 1000.0 << " s";
  return out.str();
}

std::string joinRanks(const std::vector<int>& ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }
std::string text(const std::vector<uint8_t>& value) { return {value.begin(), value.end()}; }

std::string singleLine(std::string value) {
  std::replace(value.begin(), value.end(), '\n', ' ');
  return value;
}

int parseInteger(const char* name, const char* value, int low, int high) {
  std::string text = value;
  size_t used = 0;
  long parsed = 0;
  try {
    parsed = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (text.empty() || used != text.size() || parsed < low || parsed > high) {
    throw std::invalid_argument(std::string(name) + "='" + text + "' is not an integer in " + std::to_string(low) + ".." +
                                std::to_string(high));
  }
  return static_cast<int>(parsed);
}

// What each rank publishes at start-up, compared across ranks before any backend connects.
struct JoinRecord {
  std::map<std::string, std::string> fields;

  std::string serialize() const {
    std::string out;
    for (const auto& [key, value] : fields) out += key + "=" + singleLine(value) + "\n";
    return out;
  }
  static JoinRecord parse(const std::string& serialized) {
    JoinRecord record;
    std::istringstream in(serialized);
    std::string line;
    while (std::getline(in, line)) {
      const auto equals = line.find('=');
      if (equals != std::string::npos) record.fields[line.substr(0, equals)] = line.substr(equals + 1);
    }
    return record;
  }
  std::string get(const std::string& key) const {
    auto it = fields.find(key);
    return it == fields.end() ? "" : it->second;
  }
};

// The fields that must agree, with the names a user knows them by.
const std::vector<std::pair<std::string, std::string>> kAgreedFields = {
    {"worldSize", "WORLD_SIZE"}, {"backend", "the backend"}, {"device", "the device type"}, {"torch", "the libtorch version"}};

std::string hostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

}  // namespace

ProcessGroupOptions optionsFromEnvironment(ProcessGroupOptions base) {
  auto required = [](const char* name) -> const char* {
    const char* value = std::getenv(name);
    if (!value || !*value) {
      throw std::invalid_argument(
          std::string("the environment variable ") + name +
          " is not set (a data-parallel run needs MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE, as torchrun sets them)");
    }
    return value;
  };
  base.masterAddr = required("MASTER_ADDR");
  base.masterPort = parseInteger("MASTER_PORT", required("MASTER_PORT"), 1, 65535);
  base.worldSize = parseInteger("WORLD_SIZE", required("WORLD_SIZE"), 1, 1 << 20);
  base.rank = parseInteger("RANK", required("RANK"), 0, 1 << 20);
  if (const char* local = std::getenv("LOCAL_RANK"); local && *local) base.localRank = parseInteger("LOCAL_RANK", local, 0, 1 << 20);
  if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface) base.glooInterface = iface;
  return base;
}

bool environmentHasRendezvous() {
  const char* worldSize = std::getenv("WORLD_SIZE");
  return worldSize && *worldSize;
}

std::string fingerprint(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) out[i] = digits[hash & 15];
  return out;
}

std::vector<std::string> availableBackends() { return detail::availableBackends(); }

struct ProcessGroup::Impl {
  ProcessGroupOptions options;
  std::string backend;
  c10::Device device{c10::kCPU};
  c10::intrusive_ptr<c10d::Store> tcpStore;  // the TCPStore; rank 0's serves the others
  c10::intrusive_ptr<c10d::Store> store;     // our keys, under "mtl/"
  c10::intrusive_ptr<compat::CollectiveBackend> comm;
  std::map<std::string, int64_t> agreements;  // compareConfig calls so far, per `what`

  std::thread heartbeat;
  std::mutex heartbeatMutex;
  std::condition_variable heartbeatWake;
  bool heartbeatStop = false;

  std::mutex failureMutex;
  std::atomic<bool> failed{false};  // collectives are refused
  std::atomic<bool> reductionInFlight{false};
  bool broken = false;  // a collective failed: the backend may hold blocked threads
  std::string failure;
  std::set<int> lost, raised;  // what the last diagnosis found
  bool joinTimedOut = false;   // start-up ended because ranks did not join

  void stopHeartbeat() {
    {
      std::lock_guard<std::mutex> lock(heartbeatMutex);
      heartbeatStop = true;
    }
    heartbeatWake.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }
  // Also reached when the constructor throws after the heartbeat started.
  ~Impl() { stopHeartbeat(); }

  c10d::TCPStoreOptions storeOptions(bool server) const {
    c10d::TCPStoreOptions store;
    store.port = static_cast<std::uint16_t>(options.masterPort);
    store.isServer = server;
    store.waitWorkers = false;  // the ranks are counted by join(), with errors that name them
    store.timeout = options.timeout;
    return store;
  }

  std::string endpoint() const { return options.masterAddr + ":" + std::to_string(options.masterPort); }
  std::string who() const { return "rank " + std::to_string(options.rank); }

  void publishFailure(const std::string& kind, const std::string& reason) {
    try {
      store->set("failed/" + std::to_string(options.rank), bytes(kind + ":" + singleLine(reason)));
    } catch (const std::exception&) {
      // The store is gone (rank 0 is lost): the other ranks diagnose that themselves.
    }
  }

  // Waits for the key prefix + rank of every rank until `deadline`; returns the ranks whose key is
  // still missing. `onArrival(rank)` runs as each key arrives, in rank order; it may move the
  // deadline.
  template <typename OnArrival>
  std::vector<int> awaitRankKeys(const std::string& prefix, Clock::time_point& deadline, OnArrival onArrival) {
    std::vector<int> missing;
    for (int q = 0; q < options.worldSize; ++q) {
      const std::vector<std::string> key{prefix + std::to_string(q)};
      bool present = store->check(key);
      while (!present && Clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
        present = store->check(key);
      }
      if (!present) {
        missing.push_back(q);
        // Once past the deadline the remaining ranks are only looked at, not waited for.
        for (int r = q + 1; r < options.worldSize; ++r) {
          if (!store->check({prefix + std::to_string(r)})) missing.push_back(r);
        }
        return missing;
      }
      onArrival(q);
    }
    return missing;
  }
};

ProcessGroup::ProcessGroup(ProcessGroupOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  if (options.worldSize < 1) throw std::invalid_argument("distributed: WORLD_SIZE must be at least 1");
  if (options.rank < 0 || options.rank >= options.worldSize) {
    throw std::invalid_argument("distributed: RANK=" + std::to_string(options.rank) + " is outside 0.." +
                                std::to_string(options.worldSize - 1) + " (WORLD_SIZE=" + std::to_string(options.worldSize) + ")");
  }
  if (options.masterAddr.empty()) throw std::invalid_argument("distributed: MASTER_ADDR is empty");
  if (options.masterPort < 1 || options.masterPort > 65535) {
    throw std::invalid_argument("distributed: MASTER_PORT=" + std::to_string(options.masterPort) + " is outside 1..65535");
  }
  if (options.timeout.count() <= 0) throw std::invalid_argument("distributed: the timeout must be positive");
  if (options.heartbeatInterval.count() <= 0) throw std::invalid_argument("distributed: the heartbeat interval must be positive");
  if (options.localRank < 0) options.localRank = options.rank;
  if (options.backend != "auto" && options.backend != "gloo" && options.backend != "nccl") {
    throw std::invalid_argument("distributed: backend '" + options.backend + "' is not one of auto, gloo, nccl");
  }
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(options.device);
  } catch (const c10::Error&) {
    throw std::invalid_argument("distributed: device '" + options.device + "' is not a device name (cpu, cuda, cuda:N)");
  }
  if (!device.is_cpu() && !device.is_cuda())
    throw std::invalid_argument("distributed: device '" + options.device + "' is neither cpu nor cuda");
  const auto built = detail::availableBackends();
  const bool ncclBuilt = std::find(built.begin(), built.end(), "nccl") != built.end();
  s.backend = options.backend == "auto" ? (device.is_cuda() && ncclBuilt ? "nccl" : "gloo") : options.backend;
  // One GPU per rank of a machine: "cuda" means cuda:LOCAL_RANK.
  if (device.is_cuda() && !device.has_index()) device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(options.localRank));
  s.device = device;
  s.options = options;

  // This rank's own obstacle, published with its record so that every rank reports it instead of
  // waiting for a rank that will never connect.
  std::string problem = detail::backendProblem(s.backend, device);
  if (problem.empty() && device.is_cuda() && device.index() >= static_cast<int>(at::getNumGPUs())) {
    problem = device.str() + " does not exist (this machine has " + std::to_string(at::getNumGPUs()) + " GPUs; check LOCAL_RANK)";
  }

  try {
    s.tcpStore = c10::make_intrusive<c10d::TCPStore>(options.masterAddr, s.storeOptions(options.rank == 0));
  } catch (const std::exception& error) {
    if (options.rank == 0) {
      throw DistributedError("distributed: rank 0 could not serve the rendezvous store on " + s.endpoint() + ": " + shortMessage(error) +
                             " (is MASTER_PORT in use, or MASTER_ADDR not an address of this machine?)");
    }
    throw DistributedError(
        "distributed: " + s.who() + " could not reach the rendezvous store at " + s.endpoint() + " within " + seconds(options.timeout) +
        ": " + shortMessage(error) +
        ". Rank 0 serves it: check that rank 0 is running and that every rank has the same MASTER_ADDR and MASTER_PORT.");
  }
  s.store = c10::make_intrusive<c10d::PrefixStore>("mtl", s.tcpStore);

  const std::string me = std::to_string(options.rank);
  // Claimed before anything else is written under this rank's name, so that a second process
  // started with the same RANK leaves the first one's keys alone.
  JoinRecord first;
  bool taken = false;
  try {
    taken = s.store->add("claim/" + me, 1) > 1;
    if (taken) {
      std::this_thread::sleep_for(milliseconds(100));  // the first claimer writes its record right after its claim
      if (s.store->check({"join/" + me})) first = JoinRecord::parse(text(s.store->get("join/" + me)));
    }
  } catch (const std::exception& error) {
    throw DistributedError("distributed: the rendezvous store at " + s.endpoint() + " stopped answering while " + s.who() +
                           " was starting [" + shortMessage(error) + "]");
  }
  if (taken) {
    throw DistributedError("distributed: RANK=" + me + " is already taken" +
                           (first.fields.empty() ? std::string() : " by process " + first.get("pid") + " on " + first.get("host")) +
                           ": every process of the run needs its own RANK");
  }
  try {
    join(problem);
  } catch (const DistributedError&) {
    // Rank 0 serves the store: leaving at once would cut off the ranks still reading the records
    // that show them the same mismatch, and they would only see a dropped connection. It waits a
    // little for the ranks that joined to reach their own verdict.
    try {
      s.store->set("verdict/" + me, bytes("refused"));
      if (options.rank == 0) {
        // Ranks that did not join within the whole timeout are not waited for again.
        const auto grace = Clock::now() + std::min<milliseconds>(options.timeout, milliseconds(5000));
        for (int q = 1; q < options.worldSize; ++q) {
          const std::string rank = std::to_string(q);
          while (!(s.joinTimedOut && !s.store->check({"join/" + rank})) && !s.store->check({"verdict/" + rank}) && Clock::now() < grace) {
            std::this_thread::sleep_for(milliseconds(10));
          }
        }
      }
    } catch (const std::exception&) {
      // The store is gone: nobody is left to wait for.
    }
    throw;
  } catch (const std::exception& error) {
    throw DistributedError("distributed: the rendezvous store at " + s.endpoint() + " stopped answering while " + s.who() +
                           " was starting (rank 0, which serves it, has probably refused to start: see its output) [" +
                           shortMessage(error) + "]");
  }
  s.store->set("verdict/" + me, bytes("ok"));

  detail::BackendSettings settings;
  settings.backend = s.backend;
  settings.rank = options.rank;
  settings.size = options.worldSize;
  settings.device = s.device;
  settings.timeout = options.timeout;
  settings.masterAddr = options.masterAddr;
  settings.glooInterface = options.glooInterface;
  try {
    s.comm = detail::createBackend(settings, c10::make_intrusive<c10d::PrefixStore>("mtl/" + s.backend, s.tcpStore));
  } catch (const std::exception& error) {
    const std::string cause = shortMessage(error);
    s.failed = true;
    s.publishFailure("raised", "could not connect " + s.backend + ": " + cause);
    throw DistributedError("distributed: " + s.who() + " could not connect its " + s.backend +
                           " backend to the other ranks: " + diagnose() + " [" + cause + "]");
  }
}

void ProcessGroup::join(const std::string& problem) {
  Impl& s = *impl_;
  const ProcessGroupOptions& options = s.options;
  auto deadline = Clock::now() + options.timeout;
  const std::string me = std::to_string(options.rank);

  // The heartbeat runs from now on, on a connection of its own (a store call of the main thread,
  // such as a long wait, must not delay it), so that a rank lost during start-up is named too.
  c10::intrusive_ptr<c10d::Store> heartbeatStore =
      c10::make_intrusive<c10d::PrefixStore>("mtl", c10::make_intrusive<c10d::TCPStore>(options.masterAddr, s.storeOptions(false)));
  s.heartbeat = std::thread([&s, heartbeatStore, key = "alive/" + me, interval = options.heartbeatInterval] {
    std::unique_lock<std::mutex> lock(s.heartbeatMutex);
    while (!s.heartbeatStop) {
      try {
        heartbeatStore->add(key, 1);
      } catch (const std::exception&) {
        return;  // the store is gone: rank 0 is lost or the run is over
      }
      s.heartbeatWake.wait_for(lock, interval, [&s] { return s.heartbeatStop; });
    }
  });

  JoinRecord mine;
  mine.fields = {{"worldSize", std::to_string(options.worldSize)},
                 {"backend", s.backend},
                 {"device", c10::DeviceTypeName(s.device.type(), /*lower_case=*/true)},
                 {"torch", TORCH_VERSION},
                 {"host", hostName()},
                 {"pid", std::to_string(::getpid())},
                 {"gpu", s.device.is_cuda() ? std::to_string(s.device.index()) : ""},
                 {"problem", problem}};
  s.store->set("join/" + me, bytes(mine.serialize()));

  // Records are read in rank order and each is compared with rank 0's as it arrives. The first
  // complaint shortens the wait to a short grace, for the other ranks' records to add theirs: a
  // rank started with a larger WORLD_SIZE than the others meets its own record (or rank 0's) and
  // then does not wait the whole timeout for ranks that do not exist.
  std::vector<JoinRecord> records(options.worldSize);
  std::vector<std::string> complaints;
  auto refuse = [&](const std::string& reason) {
    throw DistributedError("distributed: start-up checks failed on " + s.who() + ": " + reason);
  };
  const std::vector<int> missing = s.awaitRankKeys("join/", deadline, [&](int q) {
    records[q] = JoinRecord::parse(text(s.store->get("join/" + std::to_string(q))));
    if (!records[q].get("problem").empty())
      complaints.push_back("rank " + std::to_string(q) + " cannot start: " + records[q].get("problem"));
    for (const auto& [field, label] : kAgreedFields) {
      if (q > 0 && records[q].get(field) != records[0].get(field)) {
        complaints.push_back(label + " differs: rank 0 has " + records[0].get(field) + ", rank " + std::to_string(q) + " has " +
                             records[q].get(field));
      }
    }
    // NCCL refuses two ranks on one GPU, with a message that names neither rank nor variable.
    for (int other = 0; other < q && !records[q].get("gpu").empty(); ++other) {
      if (records[other].get("gpu") == records[q].get("gpu") && records[other].get("host") == records[q].get("host")) {
        complaints.push_back("ranks " + std::to_string(other) + " and " + std::to_string(q) + " both use cuda:" + records[q].get("gpu") +
                             " on " + records[q].get("host") + " (each rank of a machine needs its own LOCAL_RANK)");
      }
    }
    if (!complaints.empty()) deadline = std::min(deadline, Clock::now() + std::min<milliseconds>(options.timeout, milliseconds(2000)));
  });
  if (!complaints.empty()) {
    std::string all;
    for (const auto& complaint : complaints) all += (all.empty() ? "" : "; ") + complaint;
    refuse(all);
  }
  if (!missing.empty()) {
    s.joinTimedOut = true;
    refuse(joinRanks(missing) + " did not join the rendezvous at " + s.endpoint() + " within " + seconds(options.timeout) +
           " (WORLD_SIZE=" + std::to_string(options.worldSize) +
           "); check that every rank was started with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE");
  }
}

ProcessGroup::~ProcessGroup() {
  Impl& s = *impl_;
  if (std::uncaught_exceptions() > 0 && !s.failed) {
    // The error itself is unknown here; abort(reason) is the way to pass it on.
    s.publishFailure("raised", "it stopped on an error (see that rank's own output)");
    s.failed = true;
  }
  if (!s.failed) {
    s.stopHeartbeat();
    // Rank 0 serves the store: it waits until every rank has left, so that their last store
    // calls (this counter) still find it.
    try {
      s.store->add("finished", 1);
      if (s.options.rank == 0) {
        const auto deadline = Clock::now() + s.options.timeout;
        while (s.store->add("finished", 0) < s.options.worldSize && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
      }
    } catch (const std::exception&) {
    }
    return;
  }
  if (s.broken) {
    // The other survivors are diagnosing the same failure through the store rank 0 serves: rank 0
    // keeps it up until each has (the ranks found lost or failed excepted), or they would blame
    // rank 0 for leaving.
    if (s.options.rank == 0) {
      const auto deadline = Clock::now() + std::min<milliseconds>(s.options.timeout, 3 * s.options.heartbeatInterval + milliseconds(2000));
      try {
        for (int q = 1; q < s.options.worldSize; ++q) {
          if (s.lost.count(q) || s.raised.count(q)) continue;
          while (!s.store->check({"diagnosed/" + std::to_string(q)}) && Clock::now() < deadline)
            std::this_thread::sleep_for(milliseconds(10));
        }
      } catch (const std::exception&) {
      }
    }
    // After a failed collective the backend's worker threads may still be blocked in the transport
    // until their own timeouts, and destroying it would join them: the process is ending with the
    // error anyway, so the backend is left to it.
    s.stopHeartbeat();
    (void)s.comm.release();
    return;
  }
  // This rank stops on purpose (abort, a config mismatch, an error of its own). Closing its
  // connections now makes the others' collectives fail at once; rank 0 then keeps the store up
  // a little, until the others have read why (each publishes that it is stopping), so that they
  // can name the reason instead of a vanished store.
  s.comm.reset();
  if (s.options.rank == 0) {
    const auto deadline = Clock::now() + std::min<milliseconds>(s.options.timeout, 3 * s.options.heartbeatInterval + milliseconds(2000));
    try {
      for (int q = 1; q < s.options.worldSize; ++q) {
        while (!s.store->check({"failed/" + std::to_string(q)}) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
      }
    } catch (const std::exception&) {
    }
  }
  s.stopHeartbeat();
}

int ProcessGroup::rank() const { return impl_->options.rank; }
int ProcessGroup::size() const { return impl_->options.worldSize; }
int ProcessGroup::localRank() const { return impl_->options.localRank; }
const std::string& ProcessGroup::backendName() const { return impl_->backend; }
c10::Device ProcessGroup::device() const { return impl_->device; }
std::chrono::milliseconds ProcessGroup::timeout() const { return impl_->options.timeout; }

void ProcessGroup::setReductionInFlight(bool inFlight) { impl_->reductionInFlight = inFlight; }

void ProcessGroup::checkUsable() const {
  if (impl_->failed) {
    std::lock_guard<std::mutex> lock(impl_->failureMutex);
    throw DistributedError(impl_->failure.empty() ? "distributed: the process group was aborted" : impl_->failure);
  }
}

c10::ScalarType ProcessGroup::communicationType(c10::ScalarType type) const {
  if (type == at::kBFloat16 && impl_->backend == "gloo") return at::kFloat;
  if (type == at::kBool) return at::kByte;
  return type;
}

std::string ProcessGroup::diagnose() {
  Impl& s = *impl_;
  const int me = s.options.rank;
  std::vector<int> others;
  for (int q = 0; q < s.options.worldSize; ++q) {
    if (q != me) others.push_back(q);
  }
  std::map<int, std::string> raised;  // rank → its own reason
  std::set<int> stopping;             // ranks that stopped because of someone else
  std::map<int, int64_t> first;
  try {
    for (int q : others) {
      const std::string key = "failed/" + std::to_string(q);
      if (s.store->check({key})) {
        const std::string report = text(s.store->get(key));
        const auto colon = report.find(':');
        if (report.compare(0, colon, "raised") == 0)
          raised[q] = report.substr(colon + 1);
        else
          stopping.insert(q);
      }
      first[q] = s.store->add("alive/" + std::to_string(q), 0);
    }
  } catch (const std::exception&) {
    if (me == 0) return "the rendezvous store this rank serves does not answer";
    return "rank 0 is lost: the rendezvous store it serves at " + s.endpoint() +
           " no longer answers (the process died or its machine is unreachable)";
  }
  // A live rank bumps its counter every interval; three intervals without a change mean it is gone.
  std::set<int> moved;
  const auto window = Clock::now() + 3 * s.options.heartbeatInterval;
  while (Clock::now() < window && moved.size() < others.size()) {
    std::this_thread::sleep_for(std::min<milliseconds>(milliseconds(100), s.options.heartbeatInterval));
    try {
      for (int q : others) {
        if (!moved.count(q) && s.store->add("alive/" + std::to_string(q), 0) != first[q]) moved.insert(q);
      }
    } catch (const std::exception&) {
      return "rank 0 is lost: the rendezvous store it serves at " + s.endpoint() +
             " stopped answering (the process died or its machine is unreachable)";
    }
  }
  std::vector<std::string> parts;
  for (const auto& [q, reason] : raised) parts.push_back("rank " + std::to_string(q) + " failed: " + reason);
  std::vector<int> lost;
  for (int q : others) {
    if (!moved.count(q) && !raised.count(q) && !stopping.count(q)) lost.push_back(q);
  }
  s.lost = std::set<int>(lost.begin(), lost.end());
  s.raised.clear();
  for (const auto& entry : raised) s.raised.insert(entry.first);
  if (!lost.empty()) {
    parts.push_back(joinRanks(lost) + (lost.size() == 1 ? " is" : " are") + " lost (no heartbeat for " +
                    seconds(3 * s.options.heartbeatInterval) + ": the process died or its machine is unreachable)");
  }
  if (parts.empty()) {
    return "every rank is alive, so the ranks are out of step: they did not call the same collectives in the same order, or one was busy "
           "elsewhere for longer than the timeout (" +
           seconds(s.options.timeout) + ")";
  }
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

void ProcessGroup::fail(const std::string& what, const std::string& cause) {
  Impl& s = *impl_;
  s.failed = true;
  s.broken = true;
  s.publishFailure("stopping", what);
  const std::string message =
      "distributed: " + what + " failed on " + s.who() + ": " + diagnose() + " [" + s.backend + ": " + singleLine(cause) + "]";
  try {
    s.store->set("diagnosed/" + std::to_string(s.options.rank), bytes("1"));
  } catch (const std::exception&) {
  }
  {
    std::lock_guard<std::mutex> lock(s.failureMutex);
    s.failure = message;
  }
  throw DistributedError(message);
}

void ProcessGroup::abort(const std::string& reason) {
  Impl& s = *impl_;
  if (s.failed.exchange(true)) return;
  s.publishFailure("raised", reason);
  std::lock_guard<std::mutex> lock(s.failureMutex);
  s.failure = "distributed: the process group was aborted on " + s.who() + ": " + reason;
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::allReduceSumAsync(at::Tensor& tensor, const std::string& what) {
  checkUsable();
  std::vector<at::Tensor> tensors{tensor};
  try {
    return impl_->comm->allreduce(tensors, c10d::AllreduceOptions());
  } catch (const std::exception& error) {
    // Refused before it reached the wire (a dtype the backend cannot reduce, a tensor on the wrong
    // device): the others are entering this collective, so they must learn why this rank will not.
    const std::string reason = what + " could not start: " + shortMessage(error);
    abort(reason);
    throw DistributedError("distributed: " + reason);
  }
}

void ProcessGroup::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    detail::waitWork(impl_->backend, work, impl_->options.timeout);
  } catch (const std::exception& error) {
    fail(what, shortMessage(error));
  }
}

void ProcessGroup::checkOrder() const {
  if (impl_->reductionInFlight) {
    throw std::logic_error(
        "distributed: a collective between the gradient reducer's prepareForBackward and finishBackward (where its buckets "
        "launch at points that differ between ranks); call it before prepareForBackward or after finishBackward");
  }
}

void ProcessGroup::reduce(std::vector<at::Tensor>& tensors, bool mean) {
  checkUsable();
  checkOrder();
  at::NoGradGuard noGrad;
  std::vector<c10::ScalarType> order;  // dtypes in order of first appearance: the same on every rank
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    if (!t.defined()) throw std::invalid_argument("distributed: tensor " + std::to_string(i) + " of an all-reduce is undefined");
    if (t.is_sparse()) throw std::invalid_argument("distributed: tensor " + std::to_string(i) + " of an all-reduce is sparse");
    if (mean && !at::isFloatingType(t.scalar_type())) {
      throw std::invalid_argument("distributed: allReduceMean takes floating-point tensors; tensor " + std::to_string(i) + " is " +
                                  std::string(c10::toString(t.scalar_type())) + " (use allReduceSum)");
    }
    if (std::find(order.begin(), order.end(), t.scalar_type()) == order.end()) order.push_back(t.scalar_type());
  }
  for (c10::ScalarType type : order) {
    std::vector<at::Tensor*> members;
    for (auto& t : tensors) {
      if (t.scalar_type() == type) members.push_back(&t);
    }
    const c10::ScalarType wire = communicationType(type);
    at::Tensor& only = *members.front();
    const bool inPlace = members.size() == 1 && only.is_contiguous() && only.device() == impl_->device && wire == type;
    at::Tensor flat;
    if (inPlace) {
      flat = only;
    } else {
      std::vector<at::Tensor> parts;
      for (at::Tensor* t : members) parts.push_back(t->reshape({-1}).to(impl_->device, wire));
      flat = at::cat(parts);
    }
    auto work = allReduceSumAsync(flat, "all-reduce");
    wait(work, "all-reduce");
    if (mean) flat.div_(static_cast<double>(size()));
    if (!inPlace) {
      int64_t offset = 0;
      for (at::Tensor* t : members) {
        t->copy_(flat.narrow(0, offset, t->numel()).view(t->sizes()));
        offset += t->numel();
      }
    }
  }
}

void ProcessGroup::allReduceSum(std::vector<at::Tensor>& tensors) { reduce(tensors, false); }
void ProcessGroup::allReduceMean(std::vector<at::Tensor>& tensors) { reduce(tensors, true); }

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  checkUsable();
  checkOrder();
  if (root < 0 || root >= size()) throw std::invalid_argument("distributed: broadcast root " + std::to_string(root) + " is not a rank");
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) throw std::invalid_argument("distributed: tensor " + std::to_string(i) + " of a broadcast is undefined");
  }
  std::vector<c10::ScalarType> order;
  for (const auto& t : tensors) {
    if (std::find(order.begin(), order.end(), t.scalar_type()) == order.end()) order.push_back(t.scalar_type());
  }
  for (c10::ScalarType type : order) {
    std::vector<at::Tensor> parts;
    std::vector<at::Tensor*> members;
    for (auto& t : tensors) {
      if (t.scalar_type() != type) continue;
      members.push_back(&t);
      parts.push_back(t.reshape({-1}).to(impl_->device, communicationType(type)));
    }
    std::vector<at::Tensor> flat{at::cat(parts)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = impl_->comm->broadcast(flat, options);
    } catch (const std::exception& error) {
      abort("broadcast could not start: " + shortMessage(error));
      throw DistributedError("distributed: broadcast could not start: " + shortMessage(error));
    }
    wait(work, "broadcast");
    int64_t offset = 0;
    for (at::Tensor* t : members) {
      t->copy_(flat[0].narrow(0, offset, t->numel()).view(t->sizes()));
      offset += t->numel();
    }
  }
}

at::Tensor ProcessGroup::allGatherRows(const at::Tensor& local) {
  checkUsable();
  checkOrder();
  if (!local.defined() || local.dim() == 0)
    throw std::invalid_argument("distributed: allGatherRows takes a tensor with at least one dimension");
  at::NoGradGuard noGrad;
  // Row counts and a signature of the other dimensions and the dtype: each rank writes its own
  // column, so the sum gathers them exactly.
  std::string shape = std::string(c10::toString(local.scalar_type()));
  for (int64_t d = 1; d < local.dim(); ++d) shape += "," + std::to_string(local.size(d));
  const int64_t signature = static_cast<int64_t>(std::stoull(fingerprint(shape).substr(0, 15), nullptr, 16));
  at::Tensor meta = at::zeros({2, size()}, at::kLong);
  meta[0][rank()] = local.size(0);
  meta[1][rank()] = signature;
  std::vector<at::Tensor> metaList{meta};
  allReduceSum(metaList);
  for (int q = 0; q < size(); ++q) {
    if (meta[1][q].item<int64_t>() != signature) {
      throw std::invalid_argument("distributed: allGatherRows: rank " + std::to_string(q) +
                                  " gives rows of another shape or dtype than rank " + std::to_string(rank()) + " (" + shape + ")");
    }
  }
  const at::Tensor counts = meta[0];
  const int64_t offset = rank() == 0 ? 0 : counts.narrow(0, 0, rank()).sum().item<int64_t>();
  std::vector<int64_t> sizes = local.sizes().vec();
  sizes[0] = counts.sum().item<int64_t>();
  std::vector<at::Tensor> all{at::zeros(sizes, local.options().device(impl_->device).dtype(communicationType(local.scalar_type())))};
  all[0].narrow(0, offset, local.size(0)).copy_(local);
  allReduceSum(all);
  return all[0].to(local.device(), local.scalar_type());
}

void ProcessGroup::barrier() {
  checkUsable();
  checkOrder();
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = impl_->comm->barrier(c10d::BarrierOptions());
  } catch (const std::exception& error) {
    abort("barrier could not start: " + shortMessage(error));
    throw DistributedError("distributed: barrier could not start: " + shortMessage(error));
  }
  wait(work, "barrier");
}

void ProcessGroup::compareConfig(const std::string& value, const std::string& what) {
  checkUsable();
  Impl& s = *impl_;
  // Each rank numbers its calls per `what`, so the n-th call meets the others' n-th call.
  const std::string prefix = "agree/" + fingerprint(what) + "/" + std::to_string(s.agreements[what]++) + "/";
  s.store->set(prefix + std::to_string(rank()), bytes(value));
  std::vector<std::string> values(size());
  auto deadline = Clock::now() + s.options.timeout;
  const auto missing = s.awaitRankKeys(prefix, deadline, [&](int q) { values[q] = text(s.store->get(prefix + std::to_string(q))); });
  if (!missing.empty()) {
    const std::string reason = joinRanks(missing) + " did not publish " + what + " within " + seconds(s.options.timeout);
    s.failed = true;
    s.publishFailure("stopping", reason);
    throw DistributedError("distributed: " + reason + " (seen from " + s.who() + "): " + diagnose());
  }
  std::map<std::string, std::vector<int>> groups;
  for (int q = 0; q < size(); ++q) groups[values[q]].push_back(q);
  if (groups.size() == 1) return;
  // Listed from rank 0's value, so every rank prints the same sentence.
  std::vector<std::pair<std::vector<int>, std::string>> ordered;
  for (const auto& [v, ranks] : groups) ordered.push_back({ranks, v});
  std::sort(ordered.begin(), ordered.end());
  std::string listing;
  for (const auto& [ranks, v] : ordered) {
    const std::string shown = v.size() > 40 ? v.substr(0, 40) + "..." : v;
    listing += (listing.empty() ? "" : "; ") + joinRanks(ranks) + (ranks.size() == 1 ? " has '" : " have '") + shown + "'";
  }
  std::vector<int> differ;
  for (size_t g = 1; g < ordered.size(); ++g) differ.insert(differ.end(), ordered[g].first.begin(), ordered[g].first.end());
  std::sort(differ.begin(), differ.end());
  s.failed = true;
  s.publishFailure("stopping", what + " differs across ranks");
  {
    std::lock_guard<std::mutex> lock(s.failureMutex);
    s.failure = "distributed: " + what + " differs across ranks: " + listing;
  }
  throw DistributedError("distributed: " + what + " differs across ranks (" + joinRanks(differ) +
                         (differ.size() == 1 ? " differs" : " differ") + " from rank 0): " + listing);
}

}  // namespace mtl::distributed
