// libFuzzer target for the GGUF reader. Any input must either be refused with gguf::Error or
// parse into a File whose metadata and tensor views can all be touched safely (ASan/UBSan watch
// every access). Accepted inputs are also written back with gguf::Writer and re-read: the
// writer must reproduce a file the reader accepts with the same content.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/gguf/gguf.h"

using namespace nnb;
using namespace nnb::gguf;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

// Reads every byte of every tensor and every value through the typed getters.
uint64_t touch(const File& f) {
  uint64_t h = f.version() + f.alignment() + uint64_t(f.n_splits()) + f.total_bytes();
  for (const auto& [key, v] : f.metadata()) {
    h += v.to_string().size();
    if (f.find(key) != &v) fail("find() does not return the metadata entry");
    // Typed getters either succeed or throw gguf::Error; both are fine.
    try { h += f.get_string(key).value_or("").size(); } catch (const Error&) {}
    try { h += uint64_t(f.get_int(key).value_or(0)); } catch (const Error&) {}
    try { h += f.get_u32(key).value_or(0); } catch (const Error&) {}
    try { h += uint64_t(f.get_float(key).value_or(0) != 0); } catch (const Error&) {}
    try { h += f.get_bool(key).value_or(false); } catch (const Error&) {}
    try { h += f.get_string_array(key).value_or(std::vector<std::string>{}).size(); } catch (const Error&) {}
    try { h += f.get_f32_array(key).value_or(std::vector<float>{}).size(); } catch (const Error&) {}
    try { h += f.get_i32_array(key).value_or(std::vector<int32_t>{}).size(); } catch (const Error&) {}
  }
  for (const TensorInfo& t : f.tensors()) {
    if (f.tensor(t.name) != &t) fail("tensor() does not return the tensor");
    if (t.nbytes != row_size(t.type, t.ne[0]) * uint64_t(t.n_rows())) fail("nbytes does not match the shape");
    if (t.offset % f.alignment() != 0) fail("misaligned tensor accepted");
    for (uint64_t i = 0; i < t.nbytes; ++i) h += t.data[i];
  }
  return h;
}

// Writes the parsed content back and checks that re-reading it gives the same content.
void round_trip(const File& f) {
  Writer w;
  for (const auto& [key, v] : f.metadata()) w.set(key, v);
  for (const TensorInfo& t : f.tensors())
    w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims), t.data, t.nbytes);
  const std::vector<uint8_t> bytes = w.to_bytes();
  std::unique_ptr<File> g;
  try {
    g = File::parse(bytes.data(), bytes.size(), "rewritten");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    fail("the reader refuses what the writer wrote");
  }
  if (g->metadata().size() != f.metadata().size() || g->tensors().size() != f.tensors().size())
    fail("round trip changed the counts");
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    const auto& [k1, v1] = f.metadata()[i];
    const auto& [k2, v2] = g->metadata()[i];
    if (k1 != k2 || v1.type() != v2.type() || v1.to_string(1u << 30) != v2.to_string(1u << 30))
      fail("round trip changed metadata");
  }
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const TensorInfo& a = f.tensors()[i];
    const TensorInfo& b = g->tensors()[i];
    if (a.name != b.name || a.type != b.type || a.ne != b.ne || a.n_dims != b.n_dims || a.nbytes != b.nbytes ||
        std::memcmp(a.data, b.data, a.nbytes) != 0)
      fail("round trip changed a tensor");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<File> f;
  try {
    f = File::parse(data, size, "fuzz");
  } catch (const Error&) {
    return 0;  // refused cleanly: the expected outcome for most inputs
  }
  volatile uint64_t sink = touch(*f);
  (void)sink;
  // The writer pads the header to the file's alignment, as the format asks, and the reader takes
  // any power of two up to 2^31 (as llama.cpp does): a few hundred bytes of input can describe
  // a valid file of 2 GiB. The writer only ever writes the engine's own models (mkmodel), never
  // a guest's bytes, so round trips are checked where they fit the fuzzer's memory: alignments
  // up to 1 MiB.
  if (f->alignment() <= (1u << 20)) round_trip(*f);
  return 0;
}
