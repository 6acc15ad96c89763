#include "core/distributed/data_parallel.h"

#include <chrono>
#include <stdexcept>
#include <unordered_map>

namespace mtl::distributed {

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, std::string config, GradientReducerOptions reducer)
    : group_(std::move(group)), config_(std::move(config)), reducerOptions_(reducer) {
  if (!group_) throw std::invalid_argument("data parallel: no process group");
}

int DataParallel::rank() const { return group_->rank(); }
int DataParallel::worldSize() const { return group_->size(); }

template <typename Body>
auto DataParallel::timed(Body&& body) -> decltype(body()) {
  const auto started = std::chrono::steady_clock::now();
  struct Account {
    double& seconds;
    std::chrono::steady_clock::time_point started;
    ~Account() { seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); }
  } account{seconds_, started};
  return body();
}

void DataParallel::agreeOnConfig() {
  if (configAgreed_) return;
  group_->compareConfig(fingerprint(config_), "the model and trainer options (a hash of them)");
  configAgreed_ = true;
}

void DataParallel::setParameters(const std::vector<std::pair<std::string, at::Tensor>>& named) {
  named_ = named;
  reducer_.reset();
}

void DataParallel::beginBackward(const std::vector<at::Tensor>& parameters) {
  agreeOnConfig();
  if (reducer_) return;
  std::unordered_map<const void*, std::string> names;
  for (const auto& [name, tensor] : named_) names.emplace(tensor.unsafeGetTensorImpl(), name);
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < parameters.size(); ++i) {
    auto it = names.find(parameters[i].unsafeGetTensorImpl());
    named.emplace_back(it != names.end() ? it->second : "parameter " + std::to_string(i), parameters[i]);
  }
  // The reducer compares the parameter layout across ranks through the store.
  reducer_ = timed([&] { return std::make_unique<GradientReducer>(group_, std::move(named), reducerOptions_); });
}

void DataParallel::beforeBackward(bool last, const std::vector<at::Tensor>& roots) {
  if (!last) return;  // earlier micro-batches accumulate locally; the last backward's buckets carry the sum
  if (!reducer_) throw std::logic_error("data parallel: a backward pass outside beginBackward/finishBackward");
  reducer_->prepareForBackward(roots);
  armed_ = true;
}

void DataParallel::finishBackward(const std::vector<at::Tensor>&) {
  if (!armed_) return;
  armed_ = false;
  timed([&] { reducer_->finishBackward(); });
}

void DataParallel::average(at::Tensor& values) {
  std::vector<at::Tensor> list{values};
  timed([&] { group_->allReduceMean(list); });
}

void DataParallel::sum(at::Tensor& values) {
  std::vector<at::Tensor> list{values};
  timed([&] { group_->allReduceSum(list); });
}

at::Tensor DataParallel::gatherRows(const at::Tensor& local) {
  return timed([&] { return group_->allGatherRows(local); });
}

void DataParallel::broadcast(std::vector<at::Tensor>& tensors) {
  if (tensors.empty()) return;
  timed([&] { group_->broadcast(tensors, 0); });
}

void DataParallel::barrier() {
  timed([&] { group_->barrier(); });
}

void DataParallel::agree(const std::string& what, const std::string& value) {
  agreeOnConfig();
  group_->compareConfig(value, what);
}

void DataParallel::abort(const std::string& reason) { group_->abort(reason); }

}  // namespace mtl::distributed
