#include "napi/model.h"

#include <torch/csrc/autograd/functions/accumulate_grad.h>

#include <mutex>
#include <unordered_set>

#include "core/model/pretrained.h"
#include "core/runtime.h"
#include "napi/addon_data.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/json_value.h"
#include "napi/named_tensors.h"
#include "napi/tensor.h"
#include "napi/train_convert.h"

namespace mtl::napi {

namespace {
// readPretrained(dir) -> { modelType, config, input, encoder }: the architecture of a Hugging Face
// model directory (config.json and the tensors model.safetensors holds), every layer included.
Napi::Value ReadPretrained(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const model::pretrained::Checkpoint checkpoint = model::pretrained::read(Args(info).string(0));
    const Options out = {{"modelType", checkpoint.modelType},
                         {"config", checkpoint.config},
                         {"input", Options(checkpoint.family.architecture.input)},
                         {"encoder", Options(checkpoint.family.architecture.encoder)}};
    return valueOf(info.Env(), out);
  });
}
}  // namespace

BusyClaim::BusyClaim(std::shared_ptr<std::atomic<bool>> flag) {
  bool expected = false;
  if (!flag->compare_exchange_strong(expected, true)) {
    throw BusyError("the model is busy: a fit, evaluate or step is running on it; wait for it to finish");
  }
  flag_ = std::move(flag);
}

namespace {

// The storages of busy models' tensors (a multiset: a storage may be claimed through two models
// that share it), and how many there are, for the lock-free fast path.
std::mutex& busyMutex() {
  static auto* mutex = new std::mutex();
  return *mutex;
}
std::unordered_multiset<const void*>& busyStorages() {
  static auto* storages = new std::unordered_multiset<const void*>();
  return *storages;
}
std::atomic<int64_t> gBusyStorages{0};

const void* storageOf(const at::Tensor& tensor) {
  return tensor.defined() && tensor.has_storage() ? static_cast<const void*>(tensor.storage().unsafeGetStorageImpl()) : nullptr;
}

bool isBusy(const at::Tensor& tensor) {
  if (gBusyStorages.load(std::memory_order_acquire) == 0) return false;
  const void* storage = storageOf(tensor);
  if (storage == nullptr) return false;
  std::lock_guard<std::mutex> lock(busyMutex());
  return busyStorages().count(storage) > 0;
}

const char* kBusyTensor = "belongs to a model that a fit, evaluate or step is running on; wait for it to finish";

}  // namespace

BusyClaim::BusyClaim(const ModelLease& lease) : BusyClaim(lease.busy) {
  for (const auto& p : lease.model->parameters(true)) storages_.push_back(storageOf(p));
  for (const auto& b : lease.model->buffers(true)) storages_.push_back(storageOf(b));
  std::lock_guard<std::mutex> lock(busyMutex());
  for (const void* storage : storages_) {
    if (storage != nullptr) busyStorages().insert(storage), gBusyStorages.fetch_add(1);
  }
}

BusyClaim& BusyClaim::operator=(BusyClaim&& other) noexcept {
  release();
  flag_ = std::move(other.flag_);
  storages_ = std::move(other.storages_);
  return *this;
}

void BusyClaim::release() {
  if (!storages_.empty()) {
    std::lock_guard<std::mutex> lock(busyMutex());
    for (const void* storage : storages_) {
      if (storage == nullptr) continue;
      auto it = busyStorages().find(storage);
      if (it != busyStorages().end()) busyStorages().erase(it), gBusyStorages.fetch_sub(1);
    }
    storages_.clear();
  }
  if (flag_) flag_->store(false);
  flag_.reset();
}

void refuseIfBusy(const at::Tensor& tensor, const char* what) {
  if (isBusy(tensor)) throw BusyError(std::string(what) + ": the tensor " + kBusyTensor);
}

void refuseIfBackwardReachesBusy(const at::Tensor& root) {
  if (gBusyStorages.load(std::memory_order_acquire) == 0) return;
  refuseIfBusy(root, "backward");
  // The leaves a backward accumulates into are the variables of the graph's AccumulateGrad nodes.
  std::vector<torch::autograd::Node*> pending;
  std::unordered_set<torch::autograd::Node*> seen;
  if (root.grad_fn()) pending.push_back(root.grad_fn().get());
  while (!pending.empty()) {
    torch::autograd::Node* node = pending.back();
    pending.pop_back();
    if (!seen.insert(node).second) continue;
    if (auto* accumulate = dynamic_cast<torch::autograd::AccumulateGrad*>(node)) {
      if (isBusy(accumulate->variable))
        throw BusyError(std::string("backward: it would accumulate gradients into a tensor that ") + kBusyTensor);
      continue;
    }
    for (const auto& edge : node->next_edges()) {
      if (edge.function) pending.push_back(edge.function.get());
    }
  }
}

void NativeMultiTaskModel::Init(Napi::Env env, Napi::Object exports) {
  std::vector<Property> properties{InstanceMethod<&NativeMultiTaskModel::Forward>("forward"),
                                   InstanceMethod<&NativeMultiTaskModel::Predict>("predict"),
                                   InstanceMethod<&NativeMultiTaskModel::SetPrecision>("setPrecision"),
                                   InstanceMethod<&NativeMultiTaskModel::Precision>("precision"),
                                   InstanceMethod<&NativeMultiTaskModel::Generate>("generate"),
                                   InstanceMethod<&NativeMultiTaskModel::PredictTasks>("predictTasks"),
                                   InstanceMethod<&NativeMultiTaskModel::AddTask>("addTask"),
                                   InstanceMethod<&NativeMultiTaskModel::RemoveLastTask>("removeLastTask"),
                                   InstanceMethod<&NativeMultiTaskModel::Summary>("summary"),
                                   InstanceMethod<&NativeMultiTaskModel::SetTrainable>("setTrainable"),
                                   InstanceMethod<&NativeMultiTaskModel::PartParameterNames>("partParameterNames"),
                                   InstanceMethod<&NativeMultiTaskModel::ParameterGroups>("parameterGroups"),
                                   InstanceMethod<&NativeMultiTaskModel::Encode>("encode"),
                                   InstanceMethod<&NativeMultiTaskModel::LoadPretrained>("loadPretrained"),
                                   InstanceMethod<&NativeMultiTaskModel::ExportPretrained>("exportPretrained")};
  addTo(properties);
  Napi::Function ctor = DefineClass(env, "NativeMultiTaskModel", properties);
  addonData(env).modelConstructor = Napi::Persistent(ctor);
  exports.Set("NativeMultiTaskModel", ctor);
  exports.Set("readPretrained", Napi::Function::New(env, ReadPretrained, "readPretrained"));
}

ModelLease NativeMultiTaskModel::LeaseOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addonData(value.Env()).modelConstructor.Value())) {
    throw ArgumentError(std::string(what) + " must be a multi-task model");
  }
  auto* wrap = Napi::ObjectWrap<NativeMultiTaskModel>::Unwrap(value.As<Napi::Object>());
  return {wrap->model_, wrap->busy_};
}

void NativeMultiTaskModel::beforeChange() const {
  if (busy_->load())
    throw BusyError("the model is busy: a fit, evaluate or step is running on it; it cannot be used or changed until it ends");
}

void NativeMultiTaskModel::moveTo(const c10::optional<c10::Device>& device, const c10::optional<at::ScalarType>& dtype) {
  if (dtype) throw ArgumentError("a multi-task model keeps float32 weights (precision is the trainer's 'precision')");
  if (device) model_->moveTo(*device);
}

// new NativeMultiTaskModel(config, device?)
NativeMultiTaskModel::NativeMultiTaskModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMultiTaskModel>(info) {
  guard(info.Env(), [&] {
    Args args(info);
    model_ = std::make_shared<model::MultiTaskModelImpl>(model::modelConfigFromJson(jsonOf(args.value(0), "model config")));
    if (args.present(1)) model_->moveTo(parseDevice(args.string(1)));
  });
}

// forward({ [task]: batch }, computeLoss) -> { [task]: { outputs, loss? } }. Tasks given the same
// input tensor share one encoder run.
Napi::Value NativeMultiTaskModel::Forward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    Args args(info);
    const auto results = model_->forward(batchesOf(info[0], "batches"), args.boolean(1, true));
    auto out = Napi::Object::New(info.Env());
    for (const auto& [task, result] : results) {
      auto entry = Napi::Object::New(info.Env());
      entry.Set("outputs", TensorHandle::Wrap(info.Env(), result.outputs));
      if (result.loss.defined()) entry.Set("loss", TensorHandle::Wrap(info.Env(), result.loss));
      out.Set(task, entry);
    }
    return out;
  });
}

// predict(task, batch) -> tensor
Napi::Value NativeMultiTaskModel::Predict(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    Args args(info);
    return TensorHandle::Wrap(info.Env(), model_->predict(args.string(0), batchOf(args.value(1), "batch")));
  });
}

// setPrecision('fp32' | 'bf16' | 'int8'): what predict and generate compute in.
Napi::Value NativeMultiTaskModel::SetPrecision(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    model_->setPrecision(nn::parsePrecision(Args(info).string(0)));
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::Precision(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), nn::precisionName(model_->precision()));
}

// generate(task, batch, { beamSize, maxLength, lengthPenalty }) -> { sequences, scores }
Napi::Value NativeMultiTaskModel::Generate(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    Args args(info);
    const auto options = readOptions<model::GenerateOptions>(jsonOf(args.value(2), "generate options"));
    const model::Generated generated = model_->generate(args.string(0), batchOf(args.value(1), "batch"), options);
    auto out = Napi::Object::New(info.Env());
    out.Set("sequences", TensorHandle::Wrap(info.Env(), generated.sequences));
    out.Set("scores", TensorHandle::Wrap(info.Env(), generated.scores));
    return out;
  });
}

namespace {

// predictTasks on a libuv worker thread: the model is claimed busy (fits, steps and changes are
// refused meanwhile, and a second predictTasks waits for nothing: it is refused as busy); the
// tensors reach JavaScript on its thread.
class PredictWorker : public Napi::AsyncWorker {
 public:
  PredictWorker(Napi::Env env, BusyClaim claim, std::shared_ptr<model::MultiTaskModelImpl> model, std::vector<std::string> tasks,
                data::Batch batch, model::GenerateOptions options)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        claim_(std::move(claim)),
        model_(std::move(model)),
        tasks_(std::move(tasks)),
        batch_(std::move(batch)),
        options_(options) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      adoptThreadSettings();
      results_ = model_->predictTasks(tasks_, batch_, options_);
    } catch (...) {
      error_ = std::current_exception();
      SetError("predict failed");
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    claim_.release();
    auto out = Napi::Object::New(Env());
    for (const auto& [task, result] : results_) {
      auto entry = Napi::Object::New(Env());
      if (result.outputs.defined()) entry.Set("outputs", TensorHandle::Wrap(Env(), result.outputs));
      entry.Set("predictions", TensorHandle::Wrap(Env(), result.predictions));
      if (result.scores.defined()) entry.Set("scores", TensorHandle::Wrap(Env(), result.scores));
      out.Set(task, entry);
    }
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    claim_.release();
    deferred_.Reject(errorValue(Env(), error_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  BusyClaim claim_;
  std::shared_ptr<model::MultiTaskModelImpl> model_;
  std::vector<std::string> tasks_;
  data::Batch batch_;
  model::GenerateOptions options_;
  std::map<std::string, model::TaskPrediction> results_;
  std::exception_ptr error_;
};

}  // namespace

// predictTasks(tasks, batch, { beamSize, maxLength, lengthPenalty }) -> Promise<{ [task]: { outputs?, predictions, scores? } }>:
// one encoder pass for every task, in eval mode, off the JavaScript thread.
Napi::Value NativeMultiTaskModel::PredictTasks(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    if (!info[0].IsArray()) throw ArgumentError("tasks must be an array of task names");
    const auto list = info[0].As<Napi::Array>();
    std::vector<std::string> tasks;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      const Napi::Value name = list.Get(i);
      if (!name.IsString()) throw ArgumentError("tasks must be an array of task names");
      tasks.push_back(name.As<Napi::String>().Utf8Value());
    }
    const auto options = readOptions<model::GenerateOptions>(jsonOf(args.value(2), "generate options"));
    data::Batch batch = batchOf(args.value(1), "batch");
    BusyClaim claim(ModelLease{model_, busy_});
    auto* worker = new PredictWorker(info.Env(), std::move(claim), model_, std::move(tasks), std::move(batch), options);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

// addTask({ name, kind, ... })
Napi::Value NativeMultiTaskModel::AddTask(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    model_->addTask(model::taskConfigFromJson(jsonOf(Args(info).value(0), "task")));
    return info.Env().Undefined();
  });
}

// removeLastTask(): takes back the task addTask added last (a refused loadAdapter).
Napi::Value NativeMultiTaskModel::RemoveLastTask(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    model_->removeLastTask();
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::Summary(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const model::ModelSummary s = model_->summary();
    const auto env = info.Env();
    auto out = Napi::Object::New(env);
    out.Set("total", Napi::Number::New(env, static_cast<double>(s.total)));
    out.Set("shared", Napi::Number::New(env, static_cast<double>(s.shared)));
    out.Set("trainable", Napi::Number::New(env, static_cast<double>(s.trainable)));
    out.Set("bytes", Napi::Number::New(env, static_cast<double>(s.bytes)));
    auto perTask = Napi::Object::New(env);
    for (const auto& [task, n] : s.perTask) perTask.Set(task, Napi::Number::New(env, static_cast<double>(n)));
    out.Set("perTask", perTask);
    return out;
  });
}

// setTrainable(part, trainable)
Napi::Value NativeMultiTaskModel::SetTrainable(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    Args args(info);
    model_->setTrainable(args.string(0), args.boolean(1, true));
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::PartParameterNames(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto parts = model_->partParameters(Args(info).string(0));
    auto names = Napi::Array::New(info.Env(), parts.size());
    for (uint32_t i = 0; i < parts.size(); ++i) names.Set(i, parts[i].first);
    return names;
  });
}

// parameterGroups() -> [{ name, parameterNames, sharedWeighting }]: the trainer's view (TrainableModel),
// for tests and tools; sharedWeighting counts sharedParameters() and lastSharedParameters().
Napi::Value NativeMultiTaskModel::ParameterGroups(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto env = info.Env();
    const auto groups = model_->parameterGroups();
    auto list = Napi::Array::New(env, groups.size());
    for (uint32_t i = 0; i < groups.size(); ++i) {
      auto group = Napi::Object::New(env);
      group.Set("name", groups[i].name);
      auto names = Napi::Array::New(env, groups[i].parameterNames.size());
      for (uint32_t j = 0; j < groups[i].parameterNames.size(); ++j) names.Set(j, groups[i].parameterNames[j]);
      group.Set("parameterNames", names);
      list.Set(i, group);
    }
    auto out = Napi::Object::New(env);
    out.Set("groups", list);
    out.Set("sharedParameters", Napi::Number::New(env, static_cast<double>(model_->sharedParameters().size())));
    out.Set("lastSharedParameters", Napi::Number::New(env, static_cast<double>(model_->lastSharedParameters().size())));
    return out;
  });
}

// encode(batch) -> { hidden, pooled? }: the backbone's output (embedding and shared encoder), with autograd.
Napi::Value NativeMultiTaskModel::Encode(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    const model::BackboneOutput encoded = model_->encodeBackbone(batchOf(Args(info).value(0), "batch"));
    auto out = Napi::Object::New(info.Env());
    out.Set("hidden", TensorHandle::Wrap(info.Env(), encoded.hidden));
    if (encoded.pooled.defined()) out.Set("pooled", TensorHandle::Wrap(info.Env(), encoded.pooled));
    return out;
  });
}

// loadPretrained(dir): copies a Hugging Face checkpoint into this model (built from its architecture).
Napi::Value NativeMultiTaskModel::LoadPretrained(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    model::pretrained::load(*model_, model::pretrained::read(Args(info).string(0)));
    return info.Env().Undefined();
  });
}

// exportPretrained(modelType, config, task) -> { names, tensors }: the encoder under the
// checkpoint's names ('' task: the shared layers only).
Napi::Value NativeMultiTaskModel::ExportPretrained(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    beforeChange();
    Args args(info);
    return namedTensorsToJs(info.Env(),
                            model::pretrained::exportWeights(*model_, args.string(0), jsonOf(args.value(1), "config"), args.string(2)));
  });
}

}  // namespace mtl::napi
