#include "core/distributed/gradient_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <tuple>
#include <unordered_set>

namespace mtl::distributed {
namespace {

// Runs after a gradient accumulator has added this backward's gradient into .grad.
class GradientReadyHook : public torch::autograd::FunctionPostHook {
 public:
  explicit GradientReadyHook(std::function<void()> ready) : ready_(std::move(ready)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    ready_();
    return outputs;
  }

 private:
  std::function<void()> ready_;
};

int64_t versionOf(const at::Tensor& tensor) {
  return static_cast<int64_t>(tensor.unsafeGetTensorImpl()->version_counter().current_version());
}

}  // namespace

struct GradientReducer::State {
  struct Parameter {
    std::string name;
    at::Tensor tensor;
    std::shared_ptr<torch::autograd::Node> accumulator;  // held: a parameter keeps it only weakly
    uintptr_t hookKey = 0;
    size_t bucket = 0;
    int64_t offset = 0;
  };
  struct Bucket {
    std::vector<size_t> members;
    at::Tensor flat;     // the members' gradients, packed, in the communication dtype
    size_t pending = 0;  // members not taken yet in this arming
    c10::intrusive_ptr<c10d::Work> work;
  };

  std::shared_ptr<ProcessGroup> group;
  GradientReducerOptions options;
  std::vector<Parameter> parameters;
  std::vector<Bucket> buckets;

  std::mutex mutex;  // hooks may run on autograd's device threads
  bool armed = false;
  size_t nextBucket = 0;  // buckets launch strictly in order: the same collectives on every rank
  std::vector<uint8_t> taken, hadGradient;
  std::vector<const void*> takenImpl;
  std::vector<int64_t> takenVersion;
  GradientReducerStats stats;

  std::string bucketName(size_t b) const {
    return "gradient all-reduce (bucket " + std::to_string(b + 1) + " of " + std::to_string(buckets.size()) + ")";
  }

  // Copies the parameter's current gradient (zeros without one) into its bucket.
  void take(size_t index) {
    Parameter& p = parameters[index];
    Bucket& bucket = buckets[p.bucket];
    at::NoGradGuard noGrad;
    at::Tensor slice = bucket.flat.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes());
    const at::Tensor& grad = p.tensor.grad();
    if (grad.defined()) {
      if (grad.layout() != c10::kStrided) {
        throw std::invalid_argument("gradient reducer: parameter '" + p.name + "' has a sparse gradient, which is not supported");
      }
      slice.copy_(grad);
      hadGradient[index] = 1;
      takenImpl[index] = grad.unsafeGetTensorImpl();
      takenVersion[index] = versionOf(grad);
    } else {
      slice.zero_();
      hadGradient[index] = 0;
      takenImpl[index] = nullptr;
    }
    taken[index] = 1;
    --bucket.pending;
  }

  void launchReadyBuckets() {
    while (nextBucket < buckets.size() && buckets[nextBucket].pending == 0) {
      Bucket& bucket = buckets[nextBucket];
      bucket.work = group->allReduceSumAsync(bucket.flat, bucketName(nextBucket));
      ++nextBucket;
    }
  }
};

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, std::vector<std::pair<std::string, at::Tensor>> parameters,
                                 GradientReducerOptions options)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  if (!group) throw std::invalid_argument("gradient reducer: no process group");
  if (options.bucketBytes <= 0 || options.firstBucketBytes <= 0)
    throw std::invalid_argument("gradient reducer: bucket sizes must be positive");
  s.group = std::move(group);
  s.options = options;

  std::unordered_set<const void*> seen;
  std::string layout = "buckets " + std::to_string(options.bucketBytes) + "/" + std::to_string(options.firstBucketBytes) + "\n";
  for (auto& [name, tensor] : parameters) {
    if (!tensor.defined()) throw std::invalid_argument("gradient reducer: parameter '" + name + "' is undefined");
    if (!tensor.requires_grad() || !tensor.is_leaf()) {
      throw std::invalid_argument("gradient reducer: parameter '" + name +
                                  "' is not a leaf that requires grad (pass trainable parameters only)");
    }
    if (!seen.insert(tensor.unsafeGetTensorImpl()).second)
      throw std::invalid_argument("gradient reducer: parameter '" + name + "' is given twice");
    if (s.group->backendName() == "nccl" && tensor.device() != s.group->device()) {
      throw std::invalid_argument("gradient reducer: parameter '" + name + "' is on " + tensor.device().str() + ", and NCCL reduces on " +
                                  s.group->device().str());
    }
    layout += name + " " + std::string(c10::toString(tensor.scalar_type())) + " " + c10::str(tensor.sizes()) + "\n";
    State::Parameter p;
    p.name = name;
    p.tensor = tensor;
    s.parameters.push_back(std::move(p));
  }
  // Different models on different ranks would all-reduce unrelated numbers (or hang on different
  // sizes): refused here, through the store, naming the ranks.
  s.group->compareConfig(fingerprint(layout), "the gradient reducer's parameter layout (names, shapes, dtypes, bucket sizes)");

  // Buckets in reverse registration order, one open bucket per (dtype, device).
  std::map<std::tuple<c10::ScalarType, c10::DeviceType, c10::DeviceIndex>, size_t> open;
  std::vector<int64_t> bucketBytes;
  for (size_t i = s.parameters.size(); i-- > 0;) {
    State::Parameter& p = s.parameters[i];
    const c10::ScalarType wire = s.group->communicationType(p.tensor.scalar_type());
    const auto key = std::make_tuple(wire, p.tensor.device().type(), p.tensor.device().index());
    const int64_t bytes = p.tensor.numel() * static_cast<int64_t>(c10::elementSize(wire));
    auto it = open.find(key);
    if (it != open.end()) {
      const int64_t cap = it->second == 0 ? options.firstBucketBytes : options.bucketBytes;
      if (bucketBytes[it->second] + bytes > cap && !s.buckets[it->second].members.empty()) {
        open.erase(it);
        it = open.end();
      }
    }
    if (it == open.end()) {
      s.buckets.emplace_back();
      bucketBytes.push_back(0);
      it = open.emplace(key, s.buckets.size() - 1).first;
    }
    State::Bucket& bucket = s.buckets[it->second];
    p.bucket = it->second;
    p.offset = bucketBytes[it->second] / static_cast<int64_t>(c10::elementSize(wire));
    bucket.members.push_back(i);
    bucketBytes[it->second] += bytes;
  }
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    const State::Parameter& first = s.parameters[s.buckets[b].members.front()];
    const c10::ScalarType wire = s.group->communicationType(first.tensor.scalar_type());
    s.buckets[b].flat =
        at::zeros({bucketBytes[b] / static_cast<int64_t>(c10::elementSize(wire))}, first.tensor.options().dtype(wire).requires_grad(false));
    s.stats.bytes += bucketBytes[b];
  }
  s.stats.bytes += static_cast<int64_t>(s.parameters.size() * sizeof(int32_t));
  s.stats.buckets = static_cast<int64_t>(s.buckets.size());
  const size_t count = s.parameters.size();
  s.taken.assign(count, 0);
  s.hadGradient.assign(count, 0);
  s.takenImpl.assign(count, nullptr);
  s.takenVersion.assign(count, 0);

  for (size_t i = 0; i < count; ++i) {
    State::Parameter& p = s.parameters[i];
    p.accumulator = torch::autograd::impl::grad_accumulator(p.tensor);
    p.hookKey = p.accumulator->add_post_hook(std::make_unique<GradientReadyHook>([this, i] { onGradient(i); }));
  }
}

GradientReducer::~GradientReducer() {
  if (state_->armed) state_->group->setReductionInFlight(false);
  for (auto& p : state_->parameters) {
    if (p.accumulator) p.accumulator->del_post_hook(p.hookKey);
  }
}

void GradientReducer::onGradient(size_t index) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.armed) return;  // a backward outside prepare/finish: gradient accumulation, per-task gradients
  if (s.taken[index]) {
    const std::string reason =
        "gradient reducer: parameter '" + s.parameters[index].name +
        "' received a gradient after its bucket was filled (more than one backward pass between prepareForBackward and finishBackward)";
    s.group->abort(reason);
    throw std::logic_error(reason);
  }
  s.take(index);
  s.launchReadyBuckets();
}

void GradientReducer::prepareForBackward(const std::vector<at::Tensor>& roots) {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.armed && s.nextBucket > 0) {
    throw std::logic_error(
        "gradient reducer: prepareForBackward again while buckets of the last backward are in flight (call finishBackward first)");
  }
  std::fill(s.taken.begin(), s.taken.end(), 0);
  for (auto& bucket : s.buckets) {
    bucket.pending = bucket.members.size();
    bucket.work.reset();
  }
  s.nextBucket = 0;
  s.armed = true;
  s.group->setReductionInFlight(true);
  if (roots.empty()) return;

  // The autograd graph from the roots: an accumulator it does not reach will not run.
  std::unordered_set<const torch::autograd::Node*> reached;
  std::vector<torch::autograd::Node*> stack;
  for (const auto& root : roots) {
    if (!root.defined()) continue;
    if (const auto& function = root.grad_fn()) {
      if (reached.insert(function.get()).second) stack.push_back(function.get());
    } else if (root.requires_grad()) {
      if (auto accumulator = torch::autograd::impl::try_get_grad_accumulator(root)) reached.insert(accumulator.get());
    }
  }
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    for (const auto& edge : node->next_edges()) {
      torch::autograd::Node* next = edge.function.get();
      if (next && reached.insert(next).second) stack.push_back(next);
    }
  }
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    if (!reached.count(s.parameters[i].accumulator.get())) s.take(i);
  }
  s.launchReadyBuckets();
}

void GradientReducer::finishBackward() {
  State& s = *state_;
  const auto started = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.armed) throw std::logic_error("gradient reducer: finishBackward without prepareForBackward");
  s.armed = false;
  s.stats.launchedDuringBackward = static_cast<int64_t>(s.nextBucket);
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    if (!s.taken[i]) s.take(i);
  }
  s.launchReadyBuckets();

  // Which parameters had a gradient on some rank.
  at::Tensor flags = at::from_blob(s.hadGradient.data(), {static_cast<int64_t>(s.hadGradient.size())}, at::kByte)
                         .to(s.group->device(), at::kInt, /*non_blocking=*/false, /*copy=*/true);
  auto flagsWork = s.group->allReduceSumAsync(flags, "gradient all-reduce (parameter flags)");
  for (size_t b = 0; b < s.buckets.size(); ++b) s.group->wait(s.buckets[b].work, s.bucketName(b));
  s.group->wait(flagsWork, "gradient all-reduce (parameter flags)");
  s.group->setReductionInFlight(false);

  // Every rank has finished the same collectives by now, so a refusal here leaves none waiting.
  std::string changed;
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    const at::Tensor& grad = s.parameters[i].tensor.grad();
    const void* impl = grad.defined() ? grad.unsafeGetTensorImpl() : nullptr;
    if (impl != s.takenImpl[i] || (impl && versionOf(grad) != s.takenVersion[i]))
      changed += (changed.empty() ? "'" : ", '") + s.parameters[i].name + "'";
  }
  if (!changed.empty()) {
    throw std::logic_error(
        "gradient reducer: the gradients of " + changed +
        " changed after they were taken for the all-reduce (a backward pass or an in-place change after prepareForBackward reached "
        "parameters the roots' graph does not reach, or came after their accumulator ran)");
  }

  at::NoGradGuard noGrad;
  const at::Tensor global = flags.cpu();
  const int32_t* anyRank = global.data_ptr<int32_t>();
  const double world = static_cast<double>(s.group->size());
  for (auto& bucket : s.buckets) bucket.flat.div_(world);
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    if (anyRank[i] == 0) continue;  // no rank had a gradient: it stays undefined, as in one process
    State::Parameter& p = s.parameters[i];
    const at::Tensor average = s.buckets[p.bucket].flat.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes());
    if (p.tensor.grad().defined()) {
      p.tensor.mutable_grad().copy_(average);
    } else {
      p.tensor.mutable_grad() = at::empty_like(p.tensor, at::MemoryFormat::Preserve).copy_(average);
    }
  }
  ++s.stats.reductions;
  s.stats.lastFinishSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

bool GradientReducer::armed() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->armed;
}

std::vector<std::vector<size_t>> GradientReducer::bucketAssignment() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& bucket : state_->buckets) out.push_back(bucket.members);
  return out;
}

GradientReducerStats GradientReducer::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->stats;
}

}  // namespace mtl::distributed
