// Helpers shared by the tests: fixture lookup (skipping cleanly without ../shared), sha256,
// JSON loading and a scratch directory.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace nnb::test {

// ../shared/fixtures, or nullopt when it is absent.
std::optional<std::filesystem::path> fixtures_dir();

// Path of a fixture file; the calling test is skipped (with a message naming the file)
// when the fixtures are absent. Use through NNB_FIXTURE_OR_SKIP.
std::optional<std::filesystem::path> fixture(const std::string& rel);

#define NNB_FIXTURE_OR_SKIP(var, rel)                                                    \
  auto var##_opt = ::nnb::test::fixture(rel);                                            \
  if (!var##_opt) GTEST_SKIP() << "fixture " << (rel) << " not found (../shared absent)"; \
  const std::filesystem::path var = *var##_opt

std::string sha256_hex(const void* data, size_t n);
nlohmann::json load_json(const std::filesystem::path& p);
std::string read_file(const std::filesystem::path& p);

// A fresh directory under the build tree for this test's files (unique to the process).
std::filesystem::path scratch_dir(const std::string& name);

}  // namespace nnb::test
