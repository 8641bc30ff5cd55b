#include "test_util.h"

#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace nnb::test {

std::optional<std::filesystem::path> fixtures_dir() {
  std::filesystem::path p = std::filesystem::path(NNB_SHARED_DIR) / "fixtures";
  if (const char* env = std::getenv("NNB_FIXTURES")) p = env;
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return p;
  return std::nullopt;
}

bool fixtures_required() {
  const char* e = std::getenv("NNB_REQUIRE_FIXTURES");
  return e && *e && std::string(e) != "0";
}

std::filesystem::path fixture_path(const std::string& rel) {
  std::filesystem::path p = std::filesystem::path(NNB_SHARED_DIR) / "fixtures";
  if (const char* env = std::getenv("NNB_FIXTURES")) p = env;
  return p / rel;
}

std::optional<std::filesystem::path> fixture(const std::string& rel) {
  const auto p = fixture_path(rel);
  std::error_code ec;
  if (std::filesystem::exists(p, ec)) return p;
  if (fixtures_required())
    ADD_FAILURE() << "required fixture missing: " << p.string()
                  << " (NNB_REQUIRE_FIXTURES=1; is ../shared/fixtures reachable?)";
  return std::nullopt;
}

std::string sha256_hex(const void* data, size_t n) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(static_cast<const unsigned char*>(data), n, md);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : md) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json load_json(const std::filesystem::path& p) { return nlohmann::json::parse(read_file(p)); }

std::filesystem::path scratch_dir(const std::string& name) {
  // Per process: ctest runs each test case as its own process, several at once.
  auto p = std::filesystem::path(NNB_BINARY_DIR) / "test-scratch" / (name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

std::string printable_piece_after_two(const std::vector<std::string>& pieces) {
  for (size_t i = 2; i < pieces.size(); ++i) {
    const std::string& p = pieces[i];
    if (!p.empty() && std::all_of(p.begin(), p.end(), [](char ch) { return ch >= 0x21 && ch < 0x7f; })) return p;
  }
  return "";
}

std::string end_of_generation_options(int seed) {
  return R"({"temp":100,"top-k":0,"top-p":1,"min-p":0,"n-predict":400,"ctx-size":512,"seed":)" + std::to_string(seed) +
         "}";
}

}  // namespace nnb::test
