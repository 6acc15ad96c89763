// Options as they reach the core: a JSON value (nlohmann::json). The TypeScript edge validates
// them (one schema per concept, lib/); the binding converts the validated object to JSON once
// (napi/json_value.h), and every configurable part reads its own options struct from it with
// nlohmann's defaults-aware conversion. So a part's defaults live in its struct and nowhere else:
// the TypeScript schemas read them from the registry (see registry.h), and a model's config.json
// is the same JSON.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace mtl {

using Options = nlohmann::json;

// `T` read from options; fields that are absent keep T's defaults (declare T's fields with
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT). Null options give T{}.
template <typename T>
T readOptions(const Options& options) {
  return options.is_null() ? T{} : options.get<T>();
}

// A part without options.
struct NoOptions {};
inline void to_json(Options& json, const NoOptions&) { json = Options::object(); }
inline void from_json(const Options&, NoOptions&) {}

}  // namespace mtl
