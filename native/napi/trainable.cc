#include "napi/trainable.h"

#include <stdexcept>
#include <vector>

#include "napi/addon_data.h"
#include "napi/errors.h"

namespace mtl::napi {

struct TrainableRegistry {
  struct Entry {
    Napi::FunctionReference constructor;
    TrainableUnwrap unwrap;
  };
  std::vector<Entry> entries;
};

void registerTrainableClass(Napi::Env env, Napi::Function constructor, TrainableUnwrap unwrap) {
  auto& data = addonData(env);
  if (!data.trainables) data.trainables = std::make_shared<TrainableRegistry>();
  data.trainables->entries.push_back({Napi::Persistent(constructor), unwrap});
}

ModelLease trainableOf(const Napi::Value& value, const char* what) {
  auto& data = addonData(value.Env());
  if (value.IsObject() && data.trainables) {
    const Napi::Object object = value.As<Napi::Object>();
    for (const auto& entry : data.trainables->entries) {
      if (object.InstanceOf(entry.constructor.Value())) return entry.unwrap(object)->lease();
    }
  }
  throw ArgumentError(std::string(what) + " must be a trainable model (a multi-task or reference model)");
}

BusyClaim::BusyClaim(std::shared_ptr<std::atomic<bool>> flag) {
  bool expected = false;
  if (!flag->compare_exchange_strong(expected, true)) {
    throw BusyError("the model is busy: a fit, evaluate or step is already running on it; wait for it to finish");
  }
  flag_ = std::move(flag);
}

BusyClaim& BusyClaim::operator=(BusyClaim&& other) noexcept {
  release();
  flag_ = std::move(other.flag_);
  return *this;
}

void BusyClaim::release() {
  if (flag_) flag_->store(false);
  flag_.reset();
}

}  // namespace mtl::napi
