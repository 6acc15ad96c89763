// Models the native trainer can drive. Every model ObjectWrap that implements
// train::TrainableModel derives from TrainableSource and registers its class once with
// registerTrainable<Class>(env, constructor); trainableOf() then finds the model behind any
// registered JavaScript object. Adding a model kind to the trainer is that one registration line.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <stdexcept>

#include "core/train/trainable_model.h"

namespace mtl::napi {

// What a trainer holds of a model: the model, and the flag that keeps two native jobs (fit,
// evaluate, step) from running on it at once.
struct ModelLease {
  std::shared_ptr<train::TrainableModel> model;
  std::shared_ptr<std::atomic<bool>> busy;
};

class TrainableSource {
 public:
  virtual ~TrainableSource() = default;
  virtual ModelLease lease() = 0;
};

using TrainableUnwrap = TrainableSource* (*)(const Napi::Object&);
void registerTrainableClass(Napi::Env env, Napi::Function constructor, TrainableUnwrap unwrap);

template <typename Wrap>
void registerTrainable(Napi::Env env, Napi::Function constructor) {
  registerTrainableClass(env, constructor,
                         [](const Napi::Object& object) -> TrainableSource* { return Napi::ObjectWrap<Wrap>::Unwrap(object); });
}

// The model behind `value`, or an ArgumentError naming `what`.
ModelLease trainableOf(const Napi::Value& value, const char* what);

// A second native job on a busy model.
struct BusyError : std::logic_error {
  using std::logic_error::logic_error;
};

// Marks a model busy for the lifetime of the claim; refuses (BusyError) a busy model.
class BusyClaim {
 public:
  BusyClaim() = default;
  explicit BusyClaim(std::shared_ptr<std::atomic<bool>> flag);
  BusyClaim(BusyClaim&& other) noexcept : flag_(std::move(other.flag_)) {}
  BusyClaim& operator=(BusyClaim&& other) noexcept;
  ~BusyClaim() { release(); }
  void release();

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace mtl::napi
