// Reading a plain JavaScript options object ({ dModel: 256, activation: 'gelu', ... }) into C++
// values, written once: a wrong or missing field throws ArgumentError naming it. lib/ validates
// first with friendlier messages; this is the guard for callers that bypass it.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>
#include <vector>

namespace mtl::napi {

class OptionReader {
 public:
  OptionReader(const Napi::Value& value, std::string what);

  bool has(const char* field) const;
  int64_t integer(const char* field) const;
  int64_t integerOr(const char* field, int64_t fallback) const { return has(field) ? integer(field) : fallback; }
  double number(const char* field) const;
  double numberOr(const char* field, double fallback) const { return has(field) ? number(field) : fallback; }
  bool boolean(const char* field, bool fallback) const;
  std::string stringOr(const char* field, const std::string& fallback) const;
  // An integer or an array of integers.
  std::vector<int64_t> integers(const char* field) const;

 private:
  Napi::Value get(const char* field) const;
  [[noreturn]] void fail(const char* field, const char* expected) const;
  Napi::Object object_;
  std::string what_;
};

}  // namespace mtl::napi
