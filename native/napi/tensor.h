// The native side of a Tensor: a per-environment handle table that owns each at::Tensor until
// dispose(). A handle is a JavaScript number that encodes the table slot and its generation
// (2^52 + generation * 2^24 + slot, see tensor.cc); it costs no object, finalizer, weak reference
// or constructor call. The garbage-collector safety net for tensors that are never
// disposed lives in lib/tensor.ts (a FinalizationRegistry that calls dispose), so every handle a
// native call returns must end up in a lib Tensor (or be disposed).
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

namespace mtl::napi {

class TensorHandle {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Stores a tensor in the table and returns its new JavaScript handle; the handle shares the
  // tensor's storage. Callers use the result as a Napi::Value (return it, Set it).
  static Napi::Value Wrap(Napi::Env env, at::Tensor tensor);
  // The tensor held by a handle. Not a handle (any other value, or a handle-shaped number that was
  // never issued): ArgumentError naming `what`; a handle that was disposed: DisposedError.
  static const at::Tensor& TensorOf(const Napi::Value& value, const char* what);
  // Whether a value is a tensor handle issued here, live or disposed. Numbers outside [2^52, 2^53)
  // never are, so a tensor-or-number argument (a length, a scalar) is told apart with this; lib/
  // passes integer scalars in that range as BigInt.
  static bool IsHandle(const Napi::Value& value);
  // The tensor of a live handle; nullptr for a value that is not a handle; DisposedError for a
  // disposed one. The fast path of Args::tensor and friends: no message is built unless it fails.
  static const at::Tensor* Find(const Napi::Value& value);
  // Frees a handle's tensor now; false if it was already disposed. Not a handle: ArgumentError.
  static bool Dispose(const Napi::Value& value);
  static bool IsDisposed(const Napi::Value& value);

  // Live handles and the bytes they hold, over all environments, for mt.memory().
  static int64_t liveHandles();
  static int64_t liveBytes();
};

// Registers the tensor meta functions (shape, dtype, data in/out, autograd, memory) on exports.
void InitTensorFunctions(Napi::Env env, Napi::Object exports);
// Registers the op table (native/napi/tensor_ops.cc) as exports.ops.
void InitTensorOps(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
