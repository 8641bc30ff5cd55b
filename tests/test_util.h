// Helpers shared by the tests: fixture lookup (skipping cleanly without ../shared), sha256,
// JSON loading and a scratch directory.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace nnb::test {

// ../shared/fixtures, or nullopt when it is absent.
std::optional<std::filesystem::path> fixtures_dir();

// True when NNB_REQUIRE_FIXTURES=1 (set by .ci/run): a missing fixture is a failure, not a skip,
// so a CI run that lost ../shared cannot report 100 % passed.
bool fixtures_required();

// Path of a fixture file, or nullopt when it is missing. With NNB_REQUIRE_FIXTURES=1 a missing
// file is also recorded as a failure of the calling test, naming it (so every caller, also one
// that only skips afterwards, fails). Use through NNB_FIXTURE_OR_SKIP.
std::optional<std::filesystem::path> fixture(const std::string& rel);

// Where fixture `rel` is looked for (for messages).
std::filesystem::path fixture_path(const std::string& rel);

// Developer runs without ../shared skip with a message naming the file; CI runs
// (NNB_REQUIRE_FIXTURES=1) fail naming it.
#define NNB_FIXTURE_OR_SKIP(var, rel)                                                                       \
  auto var##_opt = ::nnb::test::fixture(rel);                                                               \
  if (!var##_opt) {                                                                                         \
    if (::nnb::test::fixtures_required())                                                                  \
      GTEST_FAIL() << "stopping: fixture " << (rel) << " is required";                                      \
    GTEST_SKIP() << "fixture " << (rel) << " not found at " << ::nnb::test::fixture_path(rel).string()      \
                 << " (../shared absent; NNB_REQUIRE_FIXTURES=1 makes this a failure)";                    \
  }                                                                                                         \
  const std::filesystem::path var = *var##_opt

// The kernel path under test. ctest runs the ISA-dependent suites once per path with
// NNB_ISA=scalar|avx2 (tests/CMakeLists.txt); a path this CPU lacks (the engine then ignores
// the request and uses its best one) skips with a message instead of testing the default path
// twice. Needs engine/cpu/vec_dot.h.
#define NNB_FORCED_ISA_OR_SKIP()                                                                           \
  do {                                                                                                      \
    if (const char* nnb_isa_env_ = std::getenv("NNB_ISA");                                                 \
        nnb_isa_env_ && *nnb_isa_env_ && std::string(nnb_isa_env_) != ::nnb::isa_name(::nnb::active_isa()))                 \
      GTEST_SKIP() << "NNB_ISA=" << nnb_isa_env_ << " asked for, but this CPU lacks that path (running "   \
                   << ::nnb::isa_name(::nnb::active_isa()) << ")";                                         \
  } while (0)

std::string sha256_hex(const void* data, size_t n);
nlohmann::json load_json(const std::filesystem::path& p);
std::string read_file(const std::filesystem::path& p);

// A fresh directory under the build tree for this test's files (unique to the process).
std::filesystem::path scratch_dir(const std::string& name);

// Provoking each stop reason on a generated model (the stop-reason tests of the server and the
// client): a reverse prompt is a printable piece of a greedy output after its first two ("" if
// none), and near-uniform sampling draws </s> (1 in 512) within a few hundred tokens for most
// seeds, so these options end by themselves before n-predict 400 for some seed in 1..40.
std::string printable_piece_after_two(const std::vector<std::string>& pieces);
std::string end_of_generation_options(int seed);

}  // namespace nnb::test
