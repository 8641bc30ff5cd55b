// Helpers shared by the GGML backend's test files (backend_ggml_test, its grammar and batching
// tests): the small generated model, WASI-NN tensors from strings, outputs as strings/JSON,
// the errno of a call, and a compute_single stream run to its end.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "engine/model/model_gen.h"
#include "nn/backend.h"
#include "test_util.h"

namespace nnb::test {

// The default generated model (ModelSpec with `seed`), written once per process under
// scratch_dir(name).
inline std::filesystem::path generated_model(const std::string& name, uint32_t seed) {
  static std::mutex mu;
  static std::map<std::string, std::filesystem::path> made;
  std::lock_guard<std::mutex> lock(mu);
  auto it = made.find(name);
  if (it != made.end()) return it->second;
  const auto path = scratch_dir(name) / "tiny.gguf";
  ModelSpec spec;
  spec.seed = seed;
  write_model(spec, path);
  return made.emplace(name, path).first->second;
}

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
// A u8 tensor holding s, with the dims real apps send whatever the length.
inline nn::TensorView tensor(std::string_view s) {
  static const uint32_t dims[1] = {1};
  return nn::TensorView{dims, 3, as_bytes(s)};
}
inline void set_prompt(nn::ExecutionContext& c, std::string_view p) { c.set_input(0, tensor(p)); }
inline void set_opts(nn::ExecutionContext& c, std::string_view j) { c.set_input(1, tensor(j)); }
inline std::string str(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }
inline std::string text(nn::ExecutionContext& c) { return str(c.get_output(0)); }
inline nlohmann::json meta(nn::ExecutionContext& c) {
  auto b = c.get_output(1);
  return nlohmann::json::parse(b.begin(), b.end());
}
inline std::string piece(nn::ExecutionContext& c) { return str(c.get_output_single(0)); }

// The errno and message of f's nn::Error (Success, "" when none).
template <class F>
std::pair<nn::Errno, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const nn::Error& e) {
    return {e.code(), e.what()};
  }
  return {nn::Errno::Success, ""};
}
template <class F>
nn::Errno errno_of(F&& f) {
  return error_of(std::forward<F>(f)).first;
}

// Streams until compute_single stops; returns the concatenated pieces and the final errno
// (and the number of pieces in *n_tokens).
inline std::pair<std::string, nn::Errno> stream_all(nn::ExecutionContext& c, int* n_tokens = nullptr) {
  std::string all;
  int n = 0;
  for (int guard = 0; guard < 100000; ++guard) {
    const nn::Errno e = errno_of([&] { c.compute_single(); });
    if (e != nn::Errno::Success) {
      if (n_tokens) *n_tokens = n;
      return {all, e};
    }
    all += piece(c);
    ++n;
  }
  ADD_FAILURE() << "stream never ended";
  return {all, nn::Errno::Success};
}

}  // namespace nnb::test
