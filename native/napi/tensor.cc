#include "napi/tensor.h"

#include <ATen/autocast_mode.h>
#include <atomic>
#include <cstring>

#include "core/compat.h"
#include "core/runtime.h"
#include "napi/addon_data.h"
#include "napi/convert.h"
#include "napi/errors.h"

namespace mtl::napi {

namespace {
std::atomic<int64_t> gLiveHandles{0};
std::atomic<int64_t> gLiveBytes{0};
// Wrap() hands its tensor to the constructor through this slot: JavaScript runs one call at a time
// per thread, and it avoids a Napi::External allocation per tensor.
thread_local at::Tensor* tPendingTensor = nullptr;

// NativeTensor.prototype of the environment on this thread (Node runs one per thread), for
// IsHandle: comparing an object's prototype is several times cheaper than instanceof, which looks
// up Symbol.hasInstance and walks the chain, and it runs for every tensor argument of every op.
thread_local napi_env tPrototypeEnv = nullptr;
thread_local napi_ref tPrototype = nullptr;

int64_t bytesOf(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0; }
}  // namespace

void TensorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeTensor", {});
  addonData(env).tensorConstructor = Napi::Persistent(ctor);
  if (napi_create_reference(env, ctor.Get("prototype"), 1, &tPrototype) == napi_ok) tPrototypeEnv = env;
  exports.Set("NativeTensor", ctor);
}

Napi::Object TensorHandle::Wrap(Napi::Env env, at::Tensor tensor) {
  tPendingTensor = &tensor;
  Napi::Object object = addonData(env).tensorConstructor.New({});
  tPendingTensor = nullptr;
  return object;
}

bool TensorHandle::IsHandle(const Napi::Value& value) {
  // Not a napi type tag either: tagging each new object costs more (a private property that
  // migrates the object's map) than the checks save (measured with perf). Like instanceof, this
  // trusts the prototype; a plain object given NativeTensor.prototype still fails to unwrap.
  if (!value.IsObject()) return false;
  napi_env env = value.Env();
  if (env != tPrototypeEnv) return value.As<Napi::Object>().InstanceOf(addonData(value.Env()).tensorConstructor.Value());
  napi_value prototype = nullptr;
  napi_value expected = nullptr;
  bool same = false;
  return napi_get_prototype(env, value, &prototype) == napi_ok && napi_get_reference_value(env, tPrototype, &expected) == napi_ok &&
         napi_strict_equals(env, prototype, expected, &same) == napi_ok && same;
}

const at::Tensor& TensorHandle::TensorOf(const Napi::Value& value, const char* what) {
  if (!IsHandle(value)) throw ArgumentError(std::string(what) + " must be a tensor");
  return FromHandle(value)->tensor();
}

TensorHandle* TensorHandle::FromHandle(const Napi::Value& value) {
  // dispose() removes the wrap, so a disposed handle no longer unwraps.
  void* instance = nullptr;
  if (napi_unwrap(value.Env(), value, &instance) != napi_ok || instance == nullptr) throw DisposedError("tensor was disposed");
  return static_cast<TensorHandle*>(instance);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  if (tPendingTensor == nullptr) {
    throw Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed from JavaScript");
  }
  tensor_ = std::move(*tPendingTensor);
  accountedBytes_ = bytesOf(tensor_);
  gLiveHandles.fetch_add(1, std::memory_order_relaxed);
  gLiveBytes.fetch_add(accountedBytes_, std::memory_order_relaxed);
  Napi::MemoryManagement::AdjustExternalMemory(info.Env(), accountedBytes_);
}

TensorHandle::~TensorHandle() {
  if (!disposed_) {
    gLiveHandles.fetch_sub(1, std::memory_order_relaxed);
    gLiveBytes.fetch_sub(accountedBytes_, std::memory_order_relaxed);
  }
}

const at::Tensor& TensorHandle::tensor() const {
  if (disposed_) throw DisposedError("tensor was disposed");
  return tensor_;
}

void TensorHandle::dispose() {
  if (disposed_) return;
  disposed_ = true;
  tensor_.reset();
  gLiveHandles.fetch_sub(1, std::memory_order_relaxed);
  gLiveBytes.fetch_sub(accountedBytes_, std::memory_order_relaxed);
  Napi::Env env = Env();
  Napi::MemoryManagement::AdjustExternalMemory(env, -accountedBytes_);
  accountedBytes_ = 0;
  // Detach from the JavaScript object and free this handle now: no finalizer is left for Node-API
  // to queue and no weak reference for V8 to trace at the next scavenge, which was most of the
  // per-op overhead of a disposed tensor (perf). The object stays a NativeTensor whose uses throw
  // ERR_DISPOSED (FromHandle). ~ObjectWrap then only deletes its reference.
  Napi::Object object = Value();
  if (!object.IsEmpty() && napi_remove_wrap(env, object, nullptr) == napi_ok) delete this;
}

int64_t TensorHandle::liveHandles() { return gLiveHandles.load(); }
int64_t TensorHandle::liveBytes() { return gLiveBytes.load(); }

namespace {

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

TensorHandle* handleOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !TensorHandle::IsHandle(info[0])) throw ArgumentError("argument 0 must be a tensor");
  return TensorHandle::FromHandle(info[0]);
}

// The element type a tensor is exported as, and the host tensor that holds exactly those bytes.
// float16 and bfloat16 leave as float32, bool as uint8, as typed arrays have no such types.
at::Tensor exportable(const at::Tensor& tensor) {
  at::Tensor host = tensor.detach();
  switch (host.scalar_type()) {
    case at::kHalf:
    case at::kBFloat16: host = host.to(at::kFloat); break;
    case at::kFloat: case at::kDouble: case at::kInt: case at::kLong: case at::kByte: case at::kBool: break;
    default: throw ArgumentError("cannot export dtype " + dtypeName(host.scalar_type()));
  }
  return host.to(at::kCPU).contiguous();
}

Napi::Value toTypedArray(Napi::Env env, const at::Tensor& host) {
  const size_t count = static_cast<size_t>(host.numel());
  const size_t bytes = count * host.element_size();
  auto buffer = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buffer.Data(), host.data_ptr(), bytes);
  switch (host.scalar_type()) {
    case at::kFloat: return Napi::TypedArrayOf<float>::New(env, count, buffer, 0, napi_float32_array);
    case at::kDouble: return Napi::TypedArrayOf<double>::New(env, count, buffer, 0, napi_float64_array);
    case at::kInt: return Napi::TypedArrayOf<int32_t>::New(env, count, buffer, 0, napi_int32_array);
    case at::kLong: return Napi::TypedArrayOf<int64_t>::New(env, count, buffer, 0, napi_bigint64_array);
    default: return Napi::TypedArrayOf<uint8_t>::New(env, count, buffer, 0, napi_uint8_array);
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
  void OnError(const Napi::Error& error) override {
    deferred_.Reject(makeTorchError(Env(), "ERR_TORCH", error.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  at::Tensor tensor_;
  at::Tensor host_;
};

c10::ScalarType typedArrayDtype(const Napi::TypedArray& array) {
  switch (array.TypedArrayType()) {
    case napi_float32_array: return at::kFloat;
    case napi_float64_array: return at::kDouble;
    case napi_int32_array: return at::kInt;
    case napi_bigint64_array: return at::kLong;
    case napi_uint8_array: return at::kByte;
    case napi_int8_array: return at::kChar;
    case napi_int16_array: return at::kShort;
    default: throw ArgumentError("data must be a Float32Array, Float64Array, Int32Array, BigInt64Array, Uint8Array, Int8Array or Int16Array");
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
      throw ArgumentError("shape holds " + std::to_string(numel) + " elements but data has " +
                          std::to_string(array.ElementLength()));
    }
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(typedArrayDtype(array)));
    if (array.ByteLength() > 0) {
      std::memcpy(tensor.data_ptr(), static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset(),
                  array.ByteLength());
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
  return guard(info.Env(), [&]() -> Napi::Value { return shapeToArray(info.Env(), handleOf(info)->tensor().sizes()); });
}

Napi::Value dtype(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), dtypeName(handleOf(info)->tensor().scalar_type()));
  });
}

Napi::Value device(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::String::New(info.Env(), deviceName(handleOf(info)->tensor().device()));
  });
}

Napi::Value numel(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(handleOf(info)->tensor().numel()));
  });
}

Napi::Value requiresGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    return Napi::Boolean::New(info.Env(), handleOf(info)->tensor().requires_grad());
  });
}

Napi::Value setRequiresGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    at::Tensor tensor = handleOf(info)->tensor();
    tensor.set_requires_grad(args.boolean(1, true));
    return info.Env().Undefined();
  });
}

Napi::Value grad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const at::Tensor& gradient = handleOf(info)->tensor().grad();
    if (!gradient.defined()) return info.Env().Null();
    return TensorHandle::Wrap(info.Env(), gradient);
  });
}

Napi::Value zeroGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    at::Tensor tensor = handleOf(info)->tensor();
    tensor.mutable_grad().reset();
    return info.Env().Undefined();
  });
}

Napi::Value isLeaf(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), handleOf(info)->tensor().is_leaf()); });
}

Napi::Value retainGrad(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    handleOf(info)->tensor().retain_grad();
    return info.Env().Undefined();
  });
}

// backward(tensor, gradient?, retainGraph?)
Napi::Value backward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const at::Tensor& tensor = handleOf(info)->tensor();
    const auto gradient = args.optionalTensor(1);
    const bool retainGraph = args.boolean(2, false);
    tensor.backward(gradient.value_or(at::Tensor()), retainGraph);
    return info.Env().Undefined();
  });
}

Napi::Value dataSync(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value { return toTypedArray(info.Env(), exportable(handleOf(info)->tensor())); });
}

Napi::Value data(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    auto* worker = new DataWorker(info.Env(), handleOf(info)->tensor());
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value item(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const at::Scalar value = handleOf(info)->tensor().item();
    if (value.isBoolean()) return Napi::Boolean::New(info.Env(), value.toBool());
    if (value.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(value.toLong()));
    return Napi::Number::New(info.Env(), value.toDouble());
  });
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    try {
      handleOf(info)->dispose();
    } catch (const DisposedError&) {
      // disposing twice is a no-op
    }
    return info.Env().Undefined();
  });
}

Napi::Value isDisposed(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    try {
      handleOf(info)->tensor();
      return Napi::Boolean::New(info.Env(), false);
    } catch (const DisposedError&) {
      return Napi::Boolean::New(info.Env(), true);
    }
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

Napi::Value isGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

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
      {"fromData", fromData}, {"shape", shape}, {"dtype", dtype}, {"device", device}, {"numel", numel},
      {"requiresGrad", requiresGrad}, {"setRequiresGrad", setRequiresGrad}, {"grad", grad},
      {"zeroGrad", zeroGrad}, {"isLeaf", isLeaf}, {"retainGrad", retainGrad}, {"backward", backward},
      {"dataSync", dataSync}, {"data", data}, {"item", item}, {"dispose", dispose}, {"isDisposed", isDisposed},
      {"memory", memory}, {"setGradEnabled", setGradEnabled}, {"isGradEnabled", isGradEnabled},
      {"manualSeed", manualSeedFn}, {"setNumThreads", setNumThreadsFn}, {"getNumThreads", getNumThreadsFn},
      {"runtimeInfo", runtimeInfo}, {"setErrorClass", setErrorClass},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace mtl::napi
