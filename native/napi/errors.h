// Error translation, written once: every native entry point runs its body through guard(), which
// turns libtorch and C++ exceptions into a JavaScript TorchError with a short message and a code.
#pragma once
#include <c10/util/Exception.h>
#include <napi.h>
#include <stdexcept>
#include <string>

namespace mtl::napi {

// An argument of the wrong kind or value, found while converting JavaScript values.
struct ArgumentError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A tensor that was used after dispose().
struct DisposedError : std::logic_error {
  using std::logic_error::logic_error;
};

// A second native job on, or a change to, a model a native job is running on.
struct BusyError : std::logic_error {
  using std::logic_error::logic_error;
};

// Builds a TorchError (the class lib/native.ts registers) with message and code.
Napi::Error makeTorchError(Napi::Env env, const std::string& code, const std::string& message);

// Converts the exception being handled into a thrown Napi::Error.
[[noreturn]] void rethrowAsTorchError(Napi::Env env);

// The exception as a TorchError value (its code says what went wrong: busy model, NaN loss, ...),
// for promises settled on the JavaScript thread after a native job.
Napi::Value errorValue(Napi::Env env, std::exception_ptr error);

template <typename Body>
auto guard(Napi::Env env, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrowAsTorchError(env);
  }
}

}  // namespace mtl::napi
