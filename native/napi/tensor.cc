#include "napi/tensor.h"

#include <ATen/autocast_mode.h>
#include <atomic>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <vector>

#include "core/compat.h"
#include "core/host_memory.h"
#include "core/runtime.h"
#include "napi/addon_data.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/model.h"

namespace mtl::napi {

namespace {
std::atomic<int64_t> gLiveHandles{0};
std::atomic<int64_t> gLiveBytes{0};

int64_t bytesOf(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0; }

// The handle table. Each environment (Node runs one per thread: the main thread and each worker)
// has its own table, reached through a thread_local pointer: no napi call to find it. A slot holds
// a tensor and the generation of its current (or next) occupant; dispose frees the slot at once
// and bumps the generation, so an old handle to a reused slot reads as disposed, never as another
// tensor. A slot whose generation runs out is retired instead of reused. Slots live in a deque so
// that a const at::Tensor& from TensorOf stays valid while later Wraps grow the table.
//
// A handle is a JavaScript number: 2^52 + generation * 2^24 + slot, an integer in [2^52, 2^53).
// Creating one costs a heap number at most: no object, constructor call, finalizer or weak
// reference (an ObjectWrap per tensor, or even a napi External, which in Node 20 carries a weak
// callback, cost most of an op: perf). Numbers outside that range are never handles, so the
// tensor-or-number arguments (ops' operands, metrics' lengths) stay unambiguous for every value
// but integers >= 2^52, which lib/tensor.ts passes as BigInt (the same int64 scalar natively).
constexpr int kSlotBits = 24;
constexpr int kGenerationBits = 28;
constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
constexpr uint64_t kGenerationMask = (uint64_t{1} << kGenerationBits) - 1;
constexpr double kHandleBase = 4503599627370496.0;  // 2^52
constexpr double kHandleEnd = 9007199254740992.0;   // 2^53
static_assert(kSlotBits + kGenerationBits == 52, "slot and generation fill the 52 bits above 2^52");

struct Slot {
  at::Tensor tensor;
  int64_t bytes = 0;
  uint32_t generation = 0;
  bool live = false;
};

// External memory is reported to V8 in steps of at least this many bytes: the GC feels large
// tensors at once, and small ones cost no V8 call per op.
constexpr int64_t kExternalMemoryStep = int64_t{1} << 20;

struct HandleTable {
  napi_env env = nullptr;
  // Where new slots start counting generations: different per environment, so a handle number
  // carried to another thread (postMessage) names no live tensor there.
  uint32_t firstGeneration = 0;
  std::deque<Slot> slots;
  std::vector<uint32_t> freeSlots;  // LIFO: the slot just freed is the one warm in cache
  int64_t unreportedBytes = 0;

  void reportExternal(int64_t delta) {
    unreportedBytes += delta;
    if (env == nullptr || (unreportedBytes < kExternalMemoryStep && unreportedBytes > -kExternalMemoryStep)) return;
    int64_t unused = 0;
    napi_adjust_external_memory(env, unreportedBytes, &unused);
    unreportedBytes = 0;
  }

  uint32_t acquire() {
    if (!freeSlots.empty()) {
      const uint32_t slot = freeSlots.back();
      freeSlots.pop_back();
      return slot;
    }
    if (slots.size() > kSlotMask) throw std::runtime_error("too many live tensors (16M): dispose tensors you no longer need");
    slots.emplace_back().generation = firstGeneration;
    return static_cast<uint32_t>(slots.size() - 1);
  }

  void release(uint32_t index) {
    Slot& slot = slots[index];
    slot.tensor.reset();
    slot.live = false;
    gLiveHandles.fetch_sub(1, std::memory_order_relaxed);
    gLiveBytes.fetch_sub(slot.bytes, std::memory_order_relaxed);
    reportExternal(-slot.bytes);
    slot.bytes = 0;
    if (++slot.generation <= kGenerationMask) freeSlots.push_back(index);  // else retired
  }
};

thread_local HandleTable* tTable = nullptr;
thread_local bool tTornDown = false;
std::atomic<uint32_t> gTables{0};

// Environment teardown (process exit, a worker ending): free what was never disposed.
void destroyTable(void* data) {
  auto* table = static_cast<HandleTable*>(data);
  table->env = nullptr;  // no external-memory reports to a dying environment
  for (uint32_t i = 0; i < table->slots.size(); ++i) {
    if (table->slots[i].live) table->release(i);
  }
  if (tTable == table) tTable = nullptr;
  tTornDown = true;
  delete table;
}

HandleTable& tableOf(napi_env env) {
  if (tTable == nullptr) {
    // A finalizer running after the cleanup hook finds no table rather than a new one.
    if (tTornDown) throw std::runtime_error("the JavaScript environment is shutting down");
    auto* table = new HandleTable();
    table->env = env;
    // Up to 2^26 generations of offset (a Weyl sequence): a slot still has >= 2^27 uses.
    table->firstGeneration = (gTables.fetch_add(1) * 0x9E3779B1u) & ((1u << 26) - 1);
    napi_add_env_cleanup_hook(env, destroyTable, table);
    tTable = table;
  }
  return *tTable;
}

enum class Lookup { kLive, kNotHandle, kDisposed, kUnknown };

// The slot a value names, and whether it is live. Two napi calls on the fast path.
Lookup find(napi_env env, napi_value value, Slot** out, uint32_t* indexOut = nullptr) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return Lookup::kNotHandle;
  if (!(number >= kHandleBase && number < kHandleEnd)) return Lookup::kNotHandle;  // NaN too
  const uint64_t payload = static_cast<uint64_t>(number - kHandleBase);
  const uint32_t index = static_cast<uint32_t>(payload & kSlotMask);
  const uint32_t generation = static_cast<uint32_t>(payload >> kSlotBits);
  HandleTable& table = tableOf(env);
  if (index >= table.slots.size()) return Lookup::kUnknown;
  Slot& slot = table.slots[index];
  if (generation < slot.generation) return Lookup::kDisposed;
  if (generation > slot.generation || !slot.live) return Lookup::kUnknown;
  *out = &slot;
  if (indexOut != nullptr) *indexOut = index;
  return Lookup::kLive;
}

// A handle-shaped number that names no issued slot was made up, or came from another environment
// (a worker's handle table).
[[noreturn]] void failLookup(Lookup status, const char* what) {
  if (status == Lookup::kDisposed) throw DisposedError("tensor was disposed");
  if (status == Lookup::kUnknown) throw ArgumentError(std::string(what) + " is not a tensor handle issued by this environment");
  throw ArgumentError(std::string(what) + " must be a tensor");
}
}  // namespace

void TensorHandle::Init(Napi::Env env, Napi::Object) { tableOf(env); }

Napi::Value TensorHandle::Wrap(Napi::Env env, at::Tensor tensor) {
  HandleTable& table = tableOf(env);
  const uint32_t index = table.acquire();
  Slot& slot = table.slots[index];
  const uint64_t payload = (uint64_t{slot.generation} << kSlotBits) | index;
  napi_value handle = nullptr;
  if (napi_create_double(env, kHandleBase + static_cast<double>(payload), &handle) != napi_ok) {
    table.freeSlots.push_back(index);
    throw Napi::Error::New(env);
  }
  slot.bytes = bytesOf(tensor);
  slot.tensor = std::move(tensor);
  slot.live = true;
  gLiveHandles.fetch_add(1, std::memory_order_relaxed);
  gLiveBytes.fetch_add(slot.bytes, std::memory_order_relaxed);
  table.reportExternal(slot.bytes);
  return Napi::Value(env, handle);
}

const at::Tensor* TensorHandle::Find(const Napi::Value& value) {
  Slot* slot = nullptr;
  const Lookup status = find(value.Env(), value, &slot);
  if (status == Lookup::kLive) return &slot->tensor;
  if (status == Lookup::kNotHandle) return nullptr;
  failLookup(status, "argument");
}

bool TensorHandle::IsHandle(const Napi::Value& value) {
  Slot* slot = nullptr;
  return find(value.Env(), value, &slot) != Lookup::kNotHandle;
}

const at::Tensor& TensorHandle::TensorOf(const Napi::Value& value, const char* what) {
  Slot* slot = nullptr;
  const Lookup status = find(value.Env(), value, &slot);
  if (status != Lookup::kLive) failLookup(status, what);
  return slot->tensor;
}

bool TensorHandle::Dispose(const Napi::Value& value) {
  Slot* slot = nullptr;
  uint32_t index = 0;
  const Lookup status = find(value.Env(), value, &slot, &index);
  if (status == Lookup::kDisposed) return false;
  if (status != Lookup::kLive) failLookup(status, "argument 0");
  tableOf(value.Env()).release(index);
  return true;
}

bool TensorHandle::IsDisposed(const Napi::Value& value) {
  Slot* slot = nullptr;
  const Lookup status = find(value.Env(), value, &slot);
  if (status == Lookup::kLive) return false;
  if (status == Lookup::kDisposed) return true;
  failLookup(status, "argument 0");
}

int64_t TensorHandle::liveHandles() { return gLiveHandles.load(); }
int64_t TensorHandle::liveBytes() { return gLiveBytes.load(); }

namespace {

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

const at::Tensor& handleOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1) throw ArgumentError("argument 0 must be a tensor");
  return TensorHandle::TensorOf(info[0], "argument 0");
}

// The element type a tensor is exported as, and the host tensor that holds exactly those bytes.
// float16 and bfloat16 leave as float32, bool as uint8, as typed arrays have no such types.
at::Tensor exportable(const at::Tensor& tensor) {
  at::Tensor host = tensor.detach();
  switch (host.scalar_type()) {
    case at::kHalf:
    case at::kBFloat16:
      host = host.to(at::kFloat);
      break;
    case at::kFloat:
    case at::kDouble:
    case at::kInt:
    case at::kLong:
    case at::kByte:
    case at::kBool:
      break;
    default:
      throw ArgumentError("cannot export dtype " + dtypeName(host.scalar_type()));
  }
  return host.to(at::kCPU).contiguous();
}

Napi::Value toTypedArray(Napi::Env env, const at::Tensor& host) {
  const size_t count = static_cast<size_t>(host.numel());
  const size_t bytes = count * host.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), host.data_ptr(), bytes);
  switch (host.scalar_type()) {
    case at::kFloat:
      return Napi::TypedArrayOf<float>::New(env, count, buffer, 0, napi_float32_array);
    case at::kDouble:
      return Napi::TypedArrayOf<double>::New(env, count, buffer, 0, napi_float64_array);
    case at::kInt:
      return Napi::TypedArrayOf<int32_t>::New(env, count, buffer, 0, napi_int32_array);
    case at::kLong:
      return Napi::TypedArrayOf<int64_t>::New(env, count, buffer, 0, napi_bigint64_array);
    default:
      return Napi::TypedArrayOf<uint8_t>::New(env, count, buffer, 0, napi_uint8_array);
  }
}

class DataWorker : public Napi::AsyncWorker {
 public:
  DataWorker(Napi::Env env, at::Tensor tensor)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), tensor_(std::move(tensor)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      host_ = exportable(tensor_);
    } catch (const c10::Error& e) {
      SetError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::HandleScope scope(Env());
    deferred_.Resolve(toTypedArray(Env(), host_));
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(makeTorchError(Env(), "ERR_TORCH", error.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  at::Tensor tensor_;
  at::Tensor host_;
};

c10::ScalarType typedArrayDtype(const Napi::TypedArray& array) {
  switch (array.TypedArrayType()) {
    case napi_float32_array:
      return at::kFloat;
    case napi_float64_array:
      return at::kDouble;
    case napi_int32_array:
      return at::kInt;
    case napi_bigint64_array:
      return at::kLong;
    case napi_uint8_array:
      return at::kByte;
    case napi_int8_array:
      return at::kChar;
    case napi_int16_array:
      return at::kShort;
    default:
      throw ArgumentError("data must be a Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array, Int8Array or Int16Array");
  }
}

// fromData(typedArray, shape, dtype?, device?, requiresGrad?): copies the bytes, so JavaScript may
// change or drop its buffer afterwards.
Napi::Value fromData(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw ArgumentError("argument 0 must be a typed array");
    const auto array = info[0].As<Napi::TypedArray>();
    const std::vector<int64_t> shape = args.integers(1);
    int64_t numel = 1;
    for (int64_t size : shape) {
      if (size < 0) throw ArgumentError("shape must not have negative sizes");
      numel *= size;
    }
    if (numel != static_cast<int64_t>(array.ElementLength())) {
      throw ArgumentError("shape holds " + std::to_string(numel) + " elements but data has " + std::to_string(array.ElementLength()));
    }
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(typedArrayDtype(array)));
    if (array.ByteLength() > 0) {
      std::memcpy(tensor.data_ptr(), static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset(), array.ByteLength());
    }
    const at::TensorOptions options = args.options(2, 3);
    if (options.has_dtype() || options.has_device()) {
      tensor = tensor.to(options.has_device() ? options.device() : tensor.device(),
                         options.has_dtype() ? c10::typeMetaToScalarType(options.dtype()) : tensor.scalar_type());
    }
    if (args.boolean(4, false)) tensor.set_requires_grad(true);
    return TensorHandle::Wrap(info.Env(), std::move(tensor));
  });
}

Napi::Value shape(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return shapeToArray(info.Env(), handleOf(info).sizes()); });
}

Napi::Value dtype(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), dtypeName(handleOf(info).scalar_type())); });
}

Napi::Value device(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::String::New(info.Env(), deviceName(handleOf(info).device())); });
}

Napi::Value numel(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(handleOf(info).numel())); });
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), handleOf(info).requires_grad()); });
}

Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    at::Tensor tensor = handleOf(info);
    refuseIfBusy(tensor, "setRequiresGrad");
    tensor.set_requires_grad(args.boolean(1, true));
    return info.Env().Undefined();
  });
}

Napi::Value grad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const at::Tensor& gradient = handleOf(info).grad();
    if (!gradient.defined()) return info.Env().Null();
    return TensorHandle::Wrap(info.Env(), gradient);
  });
}

Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    at::Tensor tensor = handleOf(info);
    refuseIfBusy(tensor, "zeroGrad");
    tensor.mutable_grad().reset();
    return info.Env().Undefined();
  });
}

Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), handleOf(info).is_leaf()); });
}

Napi::Value retainGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    handleOf(info).retain_grad();
    return info.Env().Undefined();
  });
}

// backward(tensor, gradient?, retainGraph?)
Napi::Value backward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const at::Tensor& tensor = handleOf(info);
    const auto gradient = args.optionalTensor(1);
    const bool retainGraph = args.boolean(2, false);
    refuseIfBackwardReachesBusy(tensor);
    tensor.backward(gradient.value_or(at::Tensor()), retainGraph);
    return info.Env().Undefined();
  });
}

Napi::Value dataSync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return toTypedArray(info.Env(), exportable(handleOf(info))); });
}

Napi::Value data(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto* worker = new DataWorker(info.Env(), handleOf(info));
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value item(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const at::Scalar value = handleOf(info).item();
    if (value.isBoolean()) return Napi::Boolean::New(info.Env(), value.toBool());
    if (value.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(value.toLong()));
    return Napi::Number::New(info.Env(), value.toDouble());
  });
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    // Disposing twice is a no-op.
    if (info.Length() < 1) throw ArgumentError("argument 0 must be a tensor");
    TensorHandle::Dispose(info[0]);
    return info.Env().Undefined();
  });
}

Napi::Value isDisposed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1) throw ArgumentError("argument 0 must be a tensor");
    return Napi::Boolean::New(info.Env(), TensorHandle::IsDisposed(info[0]));
  });
}

Napi::Value memory(const Napi::CallbackInfo& info) {
  auto result = Napi::Object::New(info.Env());
  result.Set("tensors", static_cast<double>(TensorHandle::liveHandles()));
  result.Set("bytes", static_cast<double>(TensorHandle::liveBytes()));
  return result;
}

// setGradEnabled(enabled) -> previous. Grad mode is thread-local: this sets the JavaScript thread's.
Napi::Value setGradEnabled(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(args.boolean(0, true));
    return Napi::Boolean::New(info.Env(), previous);
  });
}

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled()); }

Napi::Value manualSeedFn(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    manualSeed(static_cast<uint64_t>(args.integer(0)));
    return info.Env().Undefined();
  });
}

Napi::Value setNumThreadsFn(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    setNumThreads(static_cast<int>(args.integer(0)));
    return info.Env().Undefined();
  });
}

Napi::Value getNumThreadsFn(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getNumThreads()); }

Napi::Value hostAllocatorFn(const Napi::CallbackInfo& info) {
  const HostAllocatorState state = hostAllocatorState();
  auto result = Napi::Object::New(info.Env());
  result.Set("caching", state.caching);
  result.Set("cacheLimit", static_cast<double>(state.cacheLimit));
  result.Set("cachedBytes", static_cast<double>(state.cachedBytes));
  result.Set("hits", static_cast<double>(state.hits));
  result.Set("misses", static_cast<double>(state.misses));
  if (!state.reason.empty()) result.Set("reason", state.reason);
  return result;
}

Napi::Value releaseHostMemoryFn(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(releaseHostMemory()));
}

Napi::Value runtimeInfo(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto result = Napi::Object::New(info.Env());
    result.Set("torch", compat::torchVersion());
    result.Set("cuda", cudaAvailable());
    result.Set("cudaDeviceCount", static_cast<double>(cudaDeviceCount()));
    result.Set("napiVersion", NAPI_VERSION);
    return result;
  });
}

Napi::Value setErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "argument 0 must be a class");
  addonData(info.Env()).errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

void InitTensorFunctions(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Fn> functions[] = {
      {"fromData", fromData},
      {"shape", shape},
      {"dtype", dtype},
      {"device", device},
      {"numel", numel},
      {"requiresGrad", requiresGrad},
      {"setRequiresGrad", setRequiresGrad},
      {"grad", grad},
      {"zeroGrad", zeroGrad},
      {"isLeaf", isLeaf},
      {"retainGrad", retainGrad},
      {"backward", backward},
      {"dataSync", dataSync},
      {"data", data},
      {"item", item},
      {"dispose", dispose},
      {"isDisposed", isDisposed},
      {"memory", memory},
      {"setGradEnabled", setGradEnabled},
      {"isGradEnabled", isGradEnabled},
      {"manualSeed", manualSeedFn},
      {"setNumThreads", setNumThreadsFn},
      {"getNumThreads", getNumThreadsFn},
      {"runtimeInfo", runtimeInfo},
      {"setErrorClass", setErrorClass},
      {"hostAllocator", hostAllocatorFn},
      {"releaseHostMemory", releaseHostMemoryFn},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace mtl::napi
