// Registers the exported classes and functions of the mtl-torch addon.
#include <napi.h>

#include "core/host_memory.h"
#include "napi/addon_data.h"
#include "napi/dataset.h"
#include "napi/distributed.h"
#include "napi/metrics.h"
#include "napi/model.h"
#include "napi/module.h"
#include "napi/registry.h"
#include "napi/serialization.h"
#include "napi/tensor.h"
#include "napi/train.h"

namespace mtl::napi {

AddonData& addonData(Napi::Env env) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) {
    data = new AddonData();
    env.SetInstanceData(data);
  }
  return *data;
}

}  // namespace mtl::napi

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Before the first tensor: see core/host_memory.h for why and how to opt out.
  mtl::installHostAllocator();
  mtl::napi::TensorHandle::Init(env, exports);
  mtl::napi::InitTensorFunctions(env, exports);
  mtl::napi::InitTensorOps(env, exports);
  mtl::napi::InitModules(env, exports);
  mtl::napi::InitSerialization(env, exports);
  mtl::napi::DatasetHandle::Init(env, exports);
  mtl::napi::InitMetrics(env, exports);
  mtl::napi::InitTrainer(env, exports);
  mtl::napi::InitDistributed(env, exports);
  mtl::napi::InitRegistry(env, exports);
  mtl::napi::NativeMultiTaskModel::Init(env, exports);
  return exports;
}

NODE_API_MODULE(mtl_torch, Init)
