// The data-parallel binding: NativeProcessGroup, a handle of a core distributed::ProcessGroup that
// joins its group (the rendezvous) on a worker thread.
#pragma once
#include <napi.h>

#include <memory>

namespace mtl::distributed {
class ProcessGroup;
}

namespace mtl::napi {

void InitDistributed(Napi::Env env, Napi::Object exports);

// The joined group a NativeProcessGroup handle holds; throws an ArgumentError naming `what` for any
// other value, or a handle that has not joined or was destroyed.
std::shared_ptr<distributed::ProcessGroup> processGroupOf(const Napi::Value& value, const char* what);

}  // namespace mtl::napi
