#include "napi/errors.h"

#include <filesystem>

#include "core/distributed/process_group.h"
#include "core/file_io.h"
#include "core/model/pretrained.h"
#include "core/nn/state_dict.h"
#include "core/train/step.h"
#include "napi/addon_data.h"

namespace mtl::napi {

namespace {
// libtorch messages end with "Exception raised from ... (most recent call first): <frames>" in
// some builds; users get the sentence, not the C++ stack.
std::string shortMessage(const c10::Error& error) {
  std::string message = error.what_without_backtrace();
  for (const char* marker : {"\nException raised from", "Exception raised from "}) {
    const auto at = message.find(marker);
    if (at != std::string::npos) message.erase(at);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}
}  // namespace

Napi::Error makeTorchError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Object error;
  auto& data = addonData(env);
  if (!data.errorClass.IsEmpty()) {
    error = data.errorClass.New({Napi::String::New(env, message), Napi::String::New(env, code)});
  } else {
    error = Napi::Error::New(env, message).Value();
    error.Set("code", code);
  }
  return Napi::Error(env, error);
}

void rethrowAsTorchError(Napi::Env env) {
  try {
    throw;
  } catch (const c10::IndexError& e) {
    throw makeTorchError(env, "ERR_TORCH_INDEX", shortMessage(e));
  } catch (const c10::TypeError& e) {
    throw makeTorchError(env, "ERR_TORCH_TYPE", shortMessage(e));
  } catch (const c10::ValueError& e) {
    throw makeTorchError(env, "ERR_TORCH_VALUE", shortMessage(e));
  } catch (const c10::NotImplementedError& e) {
    throw makeTorchError(env, "ERR_TORCH_NOT_IMPLEMENTED", shortMessage(e));
  } catch (const c10::OutOfMemoryError& e) {
    throw makeTorchError(env, "ERR_OUT_OF_MEMORY", shortMessage(e));
  } catch (const c10::Error& e) {
    throw makeTorchError(env, "ERR_TORCH", shortMessage(e));
  } catch (const BusyError& e) {
    throw makeTorchError(env, "ERR_MODEL_BUSY", e.what());
  } catch (const distributed::DistributedError& e) {
    throw makeTorchError(env, "ERR_DISTRIBUTED", e.what());
  } catch (const train::NonFiniteLossError& e) {
    throw makeTorchError(env, "ERR_NON_FINITE_LOSS", e.what());
  } catch (const model::pretrained::CheckpointError& e) {
    throw makeTorchError(env, "ERR_BAD_CHECKPOINT", e.what());
  } catch (const io::IoError& e) {
    throw makeTorchError(env, e.missing ? "ERR_NOT_FOUND" : "ERR_IO", e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    throw makeTorchError(env, "ERR_IO", e.what());
  } catch (const DisposedError& e) {
    throw makeTorchError(env, "ERR_DISPOSED", e.what());
  } catch (const nn::BadEntryError& e) {
    throw makeTorchError(env, "ERR_BAD_DATA", e.what());
  } catch (const std::invalid_argument& e) {
    throw makeTorchError(env, "ERR_INVALID_ARG", e.what());
  } catch (const std::bad_alloc&) {
    throw makeTorchError(env, "ERR_OUT_OF_MEMORY", "out of memory");
  } catch (const std::exception& e) {
    throw makeTorchError(env, "ERR_NATIVE", e.what());
  } catch (...) {
    throw makeTorchError(env, "ERR_NATIVE", "unknown native error");
  }
}

Napi::Value errorValue(Napi::Env env, std::exception_ptr error) {
  try {
    try {
      std::rethrow_exception(error);
    } catch (const Napi::Error&) {
      throw;
    } catch (...) {
      rethrowAsTorchError(env);
    }
  } catch (const Napi::Error& e) {
    return e.Value();
  }
}

}  // namespace mtl::napi
