// NativeProcessGroup: `new NativeProcessGroup()` makes an empty handle; join(options) runs the
// rendezvous and the start-up checks on a worker thread (they wait for the other ranks, up to the
// timeout) and resolves once the group is up. Trainers given the handle train data parallel.
#include "napi/distributed.h"

#include <chrono>
#include <exception>

#include "core/distributed/process_group.h"
#include "core/model/multitask_model.h"
#include "core/runtime.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/model.h"

namespace mtl::napi {

namespace {

// Marks NativeProcessGroup objects (napi_type_tag_object), so that no other object passes for one.
const napi_type_tag kGroupTag = {0x6d746c746f726368ULL, 0x70726f6367726f75ULL};

struct GroupSlot {
  std::shared_ptr<distributed::ProcessGroup> group;
  bool joining = false;
};

// Runs `job` on a worker thread; resolves with undefined or rejects with its error as a TorchError.
class GroupWorker : public Napi::AsyncWorker {
 public:
  GroupWorker(Napi::Env env, std::function<void()> job, std::function<void()> onDone)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)), onDone_(std::move(onDone)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      adoptThreadSettings();
      job_();
    } catch (...) {
      error_ = std::current_exception();
      SetError("distributed job failed");
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    if (onDone_) onDone_();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error&) override {
    Napi::HandleScope scope(Env());
    if (onDone_) onDone_();
    deferred_.Reject(errorValue(Env(), error_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<void()> job_, onDone_;
  std::exception_ptr error_;
};

class ProcessGroupHandle : public Napi::ObjectWrap<ProcessGroupHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeProcessGroup",
                       {
                           InstanceMethod<&ProcessGroupHandle::Join>("join"),
                           InstanceMethod<&ProcessGroupHandle::Info>("info"),
                           InstanceMethod<&ProcessGroupHandle::Barrier>("barrier"),
                           InstanceMethod<&ProcessGroupHandle::Abort>("abort"),
                           InstanceMethod<&ProcessGroupHandle::Destroy>("destroy"),
                           InstanceMethod<&ProcessGroupHandle::BroadcastModel>("broadcastModel"),
                           StaticMethod<&ProcessGroupHandle::AvailableBackends>("availableBackends"),
                       });
  }

  explicit ProcessGroupHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupHandle>(info) {
    info.This().As<Napi::Object>().TypeTag(&kGroupTag);
  }

  std::shared_ptr<distributed::ProcessGroup> joined(const char* what) const {
    if (!slot_->group) {
      throw ArgumentError(std::string(what) + ": the process group " +
                          (slot_->joining ? "is still joining (await its init)" : "was destroyed or never joined"));
    }
    return slot_->group;
  }

 private:
  // join({ masterAddr, masterPort, rank, worldSize, localRank, backend, device, timeoutMs, heartbeatMs, glooInterface }) → Promise<void>
  Napi::Value Join(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      if (slot_->group || slot_->joining) throw ArgumentError("distributed.init: this process group has already joined");
      if (!info[0].IsObject()) throw ArgumentError("distributed.init: options must be an object");
      const Napi::Object o = info[0].As<Napi::Object>();
      distributed::ProcessGroupOptions options;
      auto number = [&](const char* key) { return o.Get(key).As<Napi::Number>().Int64Value(); };
      auto text = [&](const char* key) { return o.Get(key).As<Napi::String>().Utf8Value(); };
      options.masterAddr = text("masterAddr");
      options.masterPort = static_cast<int>(number("masterPort"));
      options.rank = static_cast<int>(number("rank"));
      options.worldSize = static_cast<int>(number("worldSize"));
      options.localRank = static_cast<int>(number("localRank"));
      options.backend = text("backend");
      options.device = text("device");
      options.timeout = std::chrono::milliseconds(number("timeoutMs"));
      options.heartbeatInterval = std::chrono::milliseconds(number("heartbeatMs"));
      if (o.Has("glooInterface") && o.Get("glooInterface").IsString()) options.glooInterface = text("glooInterface");
      slot_->joining = true;
      auto slot = slot_;
      auto joinedGroup = std::make_shared<std::shared_ptr<distributed::ProcessGroup>>();
      auto* worker = new GroupWorker(
          info.Env(), [options, joinedGroup] { *joinedGroup = std::make_shared<distributed::ProcessGroup>(options); },
          [slot, joinedGroup] {
            slot->joining = false;
            slot->group = *joinedGroup;
          });
      worker->Queue();
      return worker->promise();
    });
  }

  // info() → { rank, worldSize, localRank, backend, device, timeoutMs }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto group = joined("process group");
      Napi::Object out = Napi::Object::New(info.Env());
      out.Set("rank", group->rank());
      out.Set("worldSize", group->size());
      out.Set("localRank", group->localRank());
      out.Set("backend", group->backendName());
      out.Set("device", group->device().str());
      out.Set("timeoutMs", static_cast<double>(group->timeout().count()));
      return out;
    });
  }

  // barrier() → Promise<void>: every rank has reached it.
  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto group = joined("barrier");
      auto* worker = new GroupWorker(
          info.Env(), [group] { group->barrier(); }, nullptr);
      worker->Queue();
      return worker->promise();
    });
  }

  // abort(reason): the other ranks' next collective fails naming this rank and the reason.
  Napi::Value Abort(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      Args args(info);
      if (slot_->group) slot_->group->abort(args.string(0));
      return info.Env().Undefined();
    });
  }

  // destroy() → Promise<void>: leaves the group (on a worker: rank 0 waits until the others have
  // left, as the store it serves must outlive their last use). Trainers holding it keep it alive.
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto group = std::make_shared<std::shared_ptr<distributed::ProcessGroup>>(std::move(slot_->group));
      slot_->group.reset();
      auto* worker = new GroupWorker(
          info.Env(), [group] { group->reset(); }, nullptr);
      worker->Queue();
      return worker->promise();
    });
  }

  // broadcastModel(model, root = 0): every rank's model weights (parameters and buffers) become root's.
  Napi::Value BroadcastModel(const Napi::CallbackInfo& info) {
    return guard(info.Env(), [&]() -> Napi::Value {
      auto group = joined("broadcastModel");
      ModelLease lease = NativeMultiTaskModel::LeaseOf(info[0], "broadcastModel: argument 0 (model)");
      Args args(info);
      const int root = static_cast<int>(args.integerOr(1, 0));
      BusyClaim claim(lease.busy);
      std::vector<at::Tensor> tensors;
      for (const auto& item : lease.model->named_parameters(true)) tensors.push_back(item.value().detach());
      for (const auto& item : lease.model->named_buffers(true)) tensors.push_back(item.value().detach());
      group->broadcast(tensors, root);
      return info.Env().Undefined();
    });
  }

  static Napi::Value AvailableBackends(const Napi::CallbackInfo& info) {
    const auto names = distributed::availableBackends();
    Napi::Array out = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  }

  std::shared_ptr<GroupSlot> slot_ = std::make_shared<GroupSlot>();
};

}  // namespace

std::shared_ptr<distributed::ProcessGroup> processGroupOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kGroupTag))
    throw ArgumentError(std::string(what) + " must be a process group");
  return Napi::ObjectWrap<ProcessGroupHandle>::Unwrap(value.As<Napi::Object>())->joined(what);
}

void InitDistributed(Napi::Env env, Napi::Object exports) { exports.Set("NativeProcessGroup", ProcessGroupHandle::Define(env)); }

}  // namespace mtl::napi
