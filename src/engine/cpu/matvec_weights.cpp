#include "engine/cpu/matvec_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <utility>
#include <vector>

#include "engine/cpu/vec_dot.h"
#include "engine/quant/ggml_types.h"

namespace nnb {
namespace {

// MemAvailable from /proc/meminfo in bytes; 0 when unknown.
size_t mem_available() {
  FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kb = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
  std::fclose(f);
  return size_t(kb) * 1024;
}

// NNB_REPACK: 0 turns the copies off, 1 (or unset) leaves them on; any other value is named on
// stderr once and treated as 1.
bool copies_enabled() {
  const char* e = std::getenv("NNB_REPACK");
  if (!e || !*e || std::strcmp(e, "1") == 0) return true;
  if (std::strcmp(e, "0") == 0) return false;
  static const bool warned = [&] {
    std::fprintf(stderr, "nnbridge: warning: NNB_REPACK=%s not understood (0: off, 1: on); the copies stay on\n", e);
    return true;
  }();
  (void)warned;
  return true;
}

struct Job {
  const Matrix* m;
  const PackedFormat* format;  // nullptr: verbatim
  size_t row_bytes;            // of the copy
  size_t bytes() const { return row_bytes * size_t(m->ne1); }
};

// Copies (or packs) one matrix into dst. A verbatim copy replaces the stored rows for this
// device (GEMMs included), so the file's pages under it are handed back at once: the copy
// does not double the resident size, not even at its peak. Safe for a private, never-written
// file mapping — what a Model's weights always are (Model::load maps the file; nothing else
// makes a Model) —: another reader (a GPU upload, an embedding row) faults them in again.
void copy_matrix(const Job& j, uint8_t* dst) {
  const Matrix& m = *j.m;
  if (j.format) {
    j.format->pack_rows(m.data, m.row_bytes, m.ne0, 0, m.ne1, dst);
    return;
  }
  std::memcpy(dst, m.data, j.bytes());  // row_bytes == m.row_bytes
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (uintptr_t(m.data) + page - 1) & ~(page - 1), e = (uintptr_t(m.data) + j.bytes()) & ~(page - 1);
  if (b < e) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace

MatvecWeights::~MatvecWeights() {
  if (mem_) ::munmap(mem_, bytes_);
}

std::shared_ptr<const MatvecWeights> MatvecWeights::for_model(const Model& model, int32_t first_layer) {
  if (!copies_enabled()) return nullptr;
  // Kept with the model: a context made after the last one was freed (a wasm app's next run)
  // finds them instead of copying the weights again.
  return std::static_pointer_cast<const MatvecWeights>(
      model.derived("cpu.matvec." + std::to_string(first_layer) + "." + isa_name(active_isa()),
                    [&]() -> std::shared_ptr<const void> { return make(model, first_layer); }));
}

std::shared_ptr<const MatvecWeights> MatvecWeights::make(const Model& model, int32_t first_layer) {
  // The mat-vec matrices the CPU has a kernel for, each once (a tied output is the embedding
  // matrix).
  std::vector<Job> jobs;
  auto consider = [&](const Matrix& m) {
    if (!m || !dot_kernel(m.type) || m.ne0 % int64_t(traits(m.type).block_size) != 0) return;
    for (const Job& j : jobs)
      if (j.m == &m) return;
    const PackedFormat* f = packed_format(m.type);
    if (f && !f->fits(m.ne1)) f = nullptr;  // a panel format, rows not a multiple of its panel
    jobs.push_back({&m, f, f ? f->row_bytes(m.ne0) : m.row_bytes});
  };
  for (size_t l = size_t(std::max(first_layer, 0)); l < model.layers().size(); ++l) {
    const Layer& L = model.layers()[l];
    for (const Matrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) consider(*m);
  }
  consider(model.output());

  auto total_of = [&] {
    size_t t = 0;
    for (const Job& j : jobs) t += j.bytes();
    return t;
  };
  const size_t avail = mem_available(), all_bytes = total_of();
  if (avail == 0 || all_bytes > avail / 2) {  // the packed ones alone, which gain the most
    std::erase_if(jobs, [](const Job& j) { return j.format == nullptr; });
    std::fprintf(stderr,
                 "nnbridge: weights not copied into huge pages for generation: the copy (%zu MiB) would take more than "
                 "half of the available memory (%zu MiB)%s\n",
                 all_bytes >> 20, avail >> 20,
                 jobs.empty() || total_of() > avail / 2 ? "; generation reads the stored weights in place"
                                                        : "; only the packed matrices are");
    if (total_of() > avail / 2) jobs.clear();
  }
  if (jobs.empty()) return nullptr;

  std::shared_ptr<MatvecWeights> w(new MatvecWeights);
  const size_t total = total_of();
  void* mem = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  // Transparent huge pages where the system grants them on request (THP "madvise", Debian's
  // default; see the header for what they gain).
  ::madvise(mem, total, MADV_HUGEPAGE);
  w->mem_ = mem;
  w->bytes_ = total;
  std::vector<uint8_t*> dst(jobs.size());
  uint8_t* p = static_cast<uint8_t*>(mem);
  for (size_t i = 0; i < jobs.size(); ++i) {
    dst[i] = p;
    p += jobs[i].bytes();
  }
  // Two threads copy about half the bytes each (it reads the file once: about its read speed).
  size_t half = 0, done = 0;
  while (half < jobs.size() && done < total / 2) done += jobs[half++].bytes();
  auto run = [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) copy_matrix(jobs[i], dst[i]);
  };
  std::thread helper(run, half, jobs.size());
  run(0, half);
  helper.join();
  for (size_t i = 0; i < jobs.size(); ++i) w->views_[jobs[i].m] = View{jobs[i].format, dst[i], jobs[i].row_bytes};
  return w;
}

RowStream row_stream(const Matrix& m, const MatvecWeights::View* c, VecDotFn stored_dot) {
  if (!c) return {nullptr, stored_dot, m.ne0, m.data, m.row_bytes, m.ne1};
  const PackedFormat* f = c->format;
  return {f, f ? nullptr : stored_dot, m.ne0, c->data, c->row_bytes, m.ne1};
}

}  // namespace nnb
