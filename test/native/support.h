// Shared pieces of the core's GoogleTest suite: running the PyTorch oracles of test/parity/oracles/
// (under the interpreter MTL_TORCH_PYTHON names, /usr/bin/python3 by default: Debian's
// python3-torch), temporary files, and closeness checks that say what differs.
#pragma once
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace mtl::testing {

inline std::string sourceDir() { return MTL_SOURCE_DIR; }

inline std::string python() {
  const char* configured = std::getenv("MTL_TORCH_PYTHON");
  return configured ? configured : "/usr/bin/python3";
}

inline std::filesystem::path temporaryDirectory(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot make a temporary directory");
  return pattern;
}

inline void writeJson(const std::filesystem::path& path, const nlohmann::json& value) { std::ofstream(path) << value.dump(); }

inline nlohmann::json readJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Runs test/parity/oracles/<script> with `args`; a failure fails the test with the oracle's exit code.
inline void runOracle(const std::string& script, const std::vector<std::string>& args) {
  std::ostringstream command;
  command << python() << " " << sourceDir() << "/test/parity/oracles/" << script;
  for (const auto& arg : args) command << " '" << arg << "'";
  const int status = std::system(command.str().c_str());
  ASSERT_EQ(status, 0) << "the PyTorch oracle failed: " << command.str();
}

// |a − e| ≤ atol + rtol·|e| elementwise, naming the first element that is not.
inline ::testing::AssertionResult close(const std::vector<double>& actual, const std::vector<double>& expected, double rtol,
                                        double atol) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << actual.size() << " values, the reference has " << expected.size();
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    if (!(std::fabs(actual[i] - expected[i]) <= atol + rtol * std::fabs(expected[i]))) {
      return ::testing::AssertionFailure() << "[" << i << "] = " << actual[i] << ", the reference " << expected[i] << " (rtol " << rtol
                                           << ", atol " << atol << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

// Seeded values rounded to float, so C++, libtorch and Python see the same inputs.
class Draws {
 public:
  explicit Draws(uint32_t seed) : engine_(seed) {}
  double uniform(double low, double high) { return static_cast<float>(std::uniform_real_distribution<double>(low, high)(engine_)); }
  double gaussian() { return static_cast<float>(std::normal_distribution<double>(0, 1)(engine_)); }

 private:
  std::mt19937 engine_;
};

}  // namespace mtl::testing
