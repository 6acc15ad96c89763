// The native side of a Tensor: a handle that owns one at::Tensor until dispose() or GC.
#pragma once
#include <napi.h>
#include <ATen/ATen.h>

namespace mtl::napi {

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  // Wraps a tensor in a new JavaScript handle; the handle shares the tensor's storage.
  static Napi::Object Wrap(Napi::Env env, at::Tensor tensor);
  // The tensor held by a JavaScript value, or an ArgumentError naming `what`.
  static const at::Tensor& TensorOf(const Napi::Value& value, const char* what);
  static bool IsHandle(const Napi::Value& value);
  // The live handle behind a value for which IsHandle() holds; throws DisposedError once disposed.
  static TensorHandle* FromHandle(const Napi::Value& value);

  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  const at::Tensor& tensor() const;
  void dispose();

  // Live handles and the bytes they hold, for mt.memory().
  static int64_t liveHandles();
  static int64_t liveBytes();

 private:
  at::Tensor tensor_;
  int64_t accountedBytes_ = 0;
  bool disposed_ = false;
};

// Registers the tensor meta functions (shape, dtype, data in/out, autograd, memory) on exports.
void InitTensorFunctions(Napi::Env env, Napi::Object exports);
// Registers the op table (native/napi/tensor_ops.cc) as exports.ops.
void InitTensorOps(Napi::Env env, Napi::Object exports);

}  // namespace mtl::napi
