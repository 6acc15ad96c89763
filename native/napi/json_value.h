// JavaScript values to and from the core's JSON options (core/options.h), written once. The
// TypeScript edge has validated what crosses (lib/); these conversions only guard the process:
// nesting is capped, and only plain data (objects, arrays, strings, finite numbers, booleans,
// null) converts.
#pragma once
#include <napi.h>

#include <string>

#include "core/options.h"

namespace mtl::napi {

// `what` names the value in errors.
Options jsonOf(const Napi::Value& value, const std::string& what);
Napi::Value valueOf(Napi::Env env, const Options& json);

}  // namespace mtl::napi
