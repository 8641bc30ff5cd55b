#include "engine/cpu/cpu_device.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/cpu/matvec_weights.h"
#include "engine/cpu/ops.h"
#include "engine/cpu/row_prefetch.h"
#include "engine/cpu/threadpool.h"
#include "engine/cpu/vec_dot.h"
#include "engine/cpu/vec_dot_gemm.h"
#include "engine/quant/ggml_types.h"
#include "engine/quant/quants.h"

namespace nnb {
namespace {

// Batches of at least GemmKernel::min_n rows use the GEMM kernels; a matrix with a packed copy
// (a panel format) from its own threshold, PackedFormat::gemm_min, measured per type and ISA.
// Panel formats read each panel once for all tokens, like the GEMM, without packing it per
// call. On AVX-512 Q4_K's and Q5_K's never take the GEMM: they ran ahead of it at every prompt
// length measured (220M models, 2 threads, 2 rounds; Q4_K_M, GEMM from 12
// tokens vs never: pp32 1,641 vs 2,539-2,651, pp128 2,287-2,411 vs 2,405-2,649, pp512
// 2,268-2,277 vs 2,340-2,372 t/s; Q5_K_M, GEMM always vs never: pp32 1,408-1,446 vs
// 1,752-2,105, pp128 1,899-2,103 vs 2,035-2,359, pp512 1,720-1,833 vs 1,783-2,194). Q6_K's
// GEMM catches up at 40-48 tokens (pp32 1,154-1,175 vs 1,262-1,640, pp40 1,237-1,341 vs
// 1,226-1,249, pp48 1,376-1,404 vs 1,201-1,420, pp128 2,079-2,126 vs 1,587-1,717): from 40.
// On AVX2 (NNB_ISA=avx2, same models, 2 threads, 2-4 interleaved runs, GEMM from 8 vs never;
// the VM's spread is 20 %): Q4_K panels ahead at 16-24 (pp24 733-912 vs 875-1,075), even at
// 40-48, behind at 64-512 (pp128 1,040-1,146 vs 874-949, pp512 1,118-1,267 vs 924-938): from
// 48; Q5_K's ahead up to 96 (pp64 797-897 vs 874-981, pp96 639-893 vs 673-980), behind at 128
// (931-1,152 vs 857-960): from 128; Q6_K's ahead at 16-24, even at 40, behind from 48 (pp64
// 735-976 vs 730-829, pp512 779-888 vs 653-696): from 40. Q4_0's panels (same runs): on AVX-512
// ahead or even at every length (pp16 1,375-2,358 vs 875-1,018, pp64 1,421-2,617 vs
// 1,170-2,025, pp512 2,164-2,393 vs 2,176-2,433): never; on AVX2 even at 32, behind from 64
// (pp64 930-1,054 vs 995-1,295, pp512 932-965 vs 1,272-1,308): from 48. Q8_0's (AVX-512 only)
// ahead up to 64 tokens (pp32 1,409-2,088 vs 974-1,581, pp64 2,155-2,236 vs 1,480-2,107), behind
// at 128 (2,131-2,184 vs 2,225-2,488), even at 512: from 128. (PackedFormat::gemm_min.)
// A fused product (Q, K, V) takes the GEMM only when all its matrices do.
// NNB_GEMM_MIN=N sets one threshold for every matrix (tuning, tests).
int32_t gemm_min_tokens(const GemmKernel& g, const PackedFormat* packed) {
  static const int32_t v = [] {
    const char* e = std::getenv("NNB_GEMM_MIN");
    return e && *e ? std::max(1, std::atoi(e)) : 0;
  }();
  if (v > 0) return v;
  return packed ? packed->gemm_min : g.min_n;
}

// Grow-only, 64-byte aligned, lazily zeroed (calloc: untouched pages cost no memory, so a large
// n_batch costs memory only once a batch that large is decoded).
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(raw_); }
  void reserve(size_t bytes) {
    if (bytes <= size_) return;
    std::free(raw_);
    raw_ = std::calloc(bytes + 64, 1);
    if (!raw_) throw std::bad_alloc();
    data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(raw_) + 63) & ~uintptr_t(63));
    size_ = bytes;
  }
  uint8_t* data() { return data_; }
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(data_);
  }

 private:
  void* raw_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

class CpuDevice final : public Device {
 public:
  CpuDevice(const Model& model, int32_t max_rows, int32_t max_keys, int32_t n_threads, int32_t first_layer);

  std::string describe() const override {
    std::string d = std::string("cpu ") + isa_name(active_isa()) + ", " + std::to_string(pool_.size()) + " threads";
    if (prefetch_.ahead()) d += ", rows prefetched " + std::to_string(prefetch_.ahead()) + " B ahead";
    if (!prefetch_.decided()) d += " (row prefetch being measured)";
    return d;
  }
  int32_t n_threads() const override { return pool_.size(); }
  bool is_cpu() const override { return true; }
  int32_t max_rows() const override { return max_rows_; }

  void embed(const Matrix& emb, const int32_t* tokens, int32_t n) override {
    const int64_t E = hp_.n_embd;
    for (int32_t i = 0; i < n; ++i) dequantize_row(emb.type, emb.row(tokens[i]), row(Act::X, i), E);
  }
  void set_positions(const int32_t* pos, int32_t n) override;
  void rms_norm(Act src, Act dst, const std::vector<float>& w, int32_t rows, float eps) override {
    const int64_t n = int64_t(w.size());
    for (int32_t i = 0; i < rows; ++i) op_.rms_norm(row(src, i), w.data(), row(dst, i), n, eps);
  }
  void matmul(std::span<const MatJob> jobs, Act in, int32_t rows) override;
  void matmul_to_host(const Matrix& w, Act in, int32_t rows, float* out) override {
    const Matrix* wp = &w;
    products(&wp, &out, 1, in, rows);
  }
  void add_bias(Act dst, const std::vector<float>& b, int32_t rows) override {
    for (int32_t i = 0; i < rows; ++i) op_.add(row(dst, i), b.data(), int64_t(b.size()));
  }
  void rope(Act dst, int32_t n_heads, int32_t rows) override;
  void kv_store(KvCache& kv, int layer, const int32_t* cells, int32_t rows) override {
    if (kv.type() != KvType::F16) {  // f32 rows, stored as they are or quantized (q8_0)
      for (int32_t i = 0; i < rows; ++i) kv.store_cell(layer, cells[i], row(Act::K, i), row(Act::V, i));
      return;
    }
    const int64_t w = kv.width();
    kv16_.resize(size_t(2 * w));
    for (int32_t i = 0; i < rows; ++i) {
      op_.to_f16(row(Act::K, i), kv16_.data(), w);
      op_.to_f16(row(Act::V, i), kv16_.data() + w, w);
      kv.store_cell(layer, cells[i], kv16_.data(), kv16_.data() + w);
    }
  }
  void attention(const KvCache& kv, int layer, std::span<const AttnJob> jobs, int32_t window, float softcap) override;
  void gather_rows(Act buf, const int32_t* rows, int32_t m) override {
    const size_t w = size_t(width_[int(buf)]);
    for (int32_t k = 0; k < m; ++k)
      if (rows[k] != k) std::memcpy(row(buf, k), row(buf, rows[k]), w * sizeof(float));
  }
  void add(Act dst, Act src, int32_t rows) override {
    op_.add(row(dst, 0), row(src, 0), int64_t(rows) * width_[int(dst)]);
  }
  void read_act(Act a, int32_t rows, float* host) override {
    std::memcpy(host, row(a, 0), size_t(rows) * size_t(width_[int(a)]) * sizeof(float));
  }
  void write_act(Act a, int32_t rows, const float* host) override {
    std::memcpy(row(a, 0), host, size_t(rows) * size_t(width_[int(a)]) * sizeof(float));
  }
  // GELU as ggml's CPU backend evaluates it: its f16 table (ggml_table_gelu_f16), 0 below -10,
  // x above 10.
  static float gelu_ggml(float x) {
    static const std::vector<uint16_t> table = [] {
      std::vector<uint16_t> t(65536);
      for (uint32_t i = 0; i < 65536; ++i) {
        const float v = fp16_to_fp32(uint16_t(i));
        t[i] = fp32_to_fp16(0.5f * v * (1.0f + std::tanh(0.79788456080286535587989211986876f * v * (1.0f + 0.044715f * v * v))));
      }
      return t;
    }();
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return fp16_to_fp32(table[fp32_to_fp16(x)]);
  }
  void geglu(int32_t rows) override {
    const int64_t n = int64_t(rows) * hp_.n_ff;
    float* g = row(Act::Gate, 0);
    const float* u = row(Act::Up, 0);
    for (int64_t i = 0; i < n; ++i) g[i] = gelu_ggml(g[i]) * u[i];
  }
  void gelu(Act a, int32_t rows) override {
    float* x = row(a, 0);
    const int64_t n = int64_t(rows) * width_[int(a)];
    for (int64_t i = 0; i < n; ++i) x[i] = gelu_ggml(x[i]);
  }
  void layer_norm(Act src, Act dst, const std::vector<float>& w, const std::vector<float>& b, int32_t rows,
                  float eps) override {
    const int64_t n = int64_t(w.size());
    for (int32_t r = 0; r < rows; ++r) {
      const float* x = row(src, r);
      float* y = row(dst, r);
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += x[i];
      const float mean = float(sum / double(n));
      double sum2 = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i] - mean;
        y[i] = v;
        sum2 += double(v * v);
      }
      const float scale = 1.0f / std::sqrt(float(sum2 / double(n)) + eps);
      for (int64_t i = 0; i < n; ++i) y[i] = y[i] * scale * w[size_t(i)] + b[size_t(i)];
    }
  }
  void scale(Act a, int32_t rows, float s) override {
    float* x = row(a, 0);
    const int64_t n = int64_t(rows) * width_[int(a)];
    for (int64_t i = 0; i < n; ++i) x[i] *= s;
  }
  void swiglu(int32_t rows) override {
    const int64_t F = hp_.n_ff;
    // Inline for one row (generation), in parallel for a batch.
    auto fn = [&](int64_t b, int64_t e, int) { op_.silu_mul(row(Act::Gate, int32_t(b)), row(Act::Up, int32_t(b)), (e - b) * F); };
    if (rows == 1) fn(0, 1, 0);
    else pool_.parallel_for(rows, 1, fn);
  }

 private:
  float* row(Act a, int32_t i) { return act_[int(a)].as<float>() + size_t(i) * size_t(width_[int(a)]); }
  // Products of up to 3 matrices with the same input, in one parallel region.
  void products(const Matrix* const* w, float* const* out, int count, Act in, int32_t n);
  void products_untimed(const Matrix* const* w, float* const* out, int count, Act in, int32_t n);

  const Hparams& hp_;
  const OpsTable& op_;
  int32_t max_rows_;
  ThreadPool pool_;
  int64_t width_[kActCount];
  Buffer act_[kActCount];
  Buffer rope_cos_, rope_sin_;  // [n][n_rot/2] for the batch's positions
  const std::vector<float>& rope_freq_factors_;
  bool neox_;
  Buffer prepared_[6];            // activations prepared for the products, one per format in use
  std::vector<Buffer> thread_;    // per thread: attention scores, then a GEMM panel
  std::vector<uint16_t> kv16_;    // a K and a V row in f16, on their way into an f16 cache
  size_t attn_floats_ = 0;        // offset of the panel in a thread buffer
  std::shared_ptr<const MatvecWeights> matvec_;  // the mat-vec copies of the weights, or null
  PrefetchTuner prefetch_;                        // how far ahead the mat-vec rows are prefetched
};

CpuDevice::CpuDevice(const Model& model, int32_t max_rows, int32_t max_keys, int32_t n_threads, int32_t first_layer)
    : hp_(model.hparams()),
      op_(ops()),
      max_rows_(max_rows),
      pool_(n_threads),
      rope_freq_factors_(model.rope_freq_factors()),
      neox_(model.arch().rope == RopeType::Neox) {
  const size_t B = size_t(max_rows), f = sizeof(float);
  for (int a = 0; a < kActCount; ++a) {
    width_[a] = act_width(hp_, Act(a));
    act_[a].reserve(B * size_t(width_[a]) * f);
  }
  rope_cos_.reserve(B * size_t(hp_.n_rot / 2) * f + f);
  rope_sin_.reserve(B * size_t(hp_.n_rot / 2) * f + f);

  // Per-thread scratch: attention scores of a block of 4 queries over the whole context, and
  // the largest GEMM panel of any matrix of the model.
  attn_floats_ = size_t(attn_scratch_floats(4, max_keys) + 16) / 16 * 16;
  size_t panel = 0;
  auto consider = [&](const Matrix& m) {
    if (const GemmKernel* g = gemm_kernel(m.type)) panel = std::max(panel, g->panel_bytes(m.ne0));
  };
  for (const Layer& L : model.layers())
    for (const Matrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) consider(*m);
  consider(model.output());
  thread_ = std::vector<Buffer>(size_t(pool_.size()));
  for (Buffer& b : thread_) b.reserve(attn_floats_ * sizeof(float) + panel);
  // The activation buffer every product needs (one token in the widest format: f32).
  const int64_t widest = std::max<int64_t>({hp_.n_embd, hp_.n_embd_q(), hp_.n_ff});
  prepared_[0].reserve(size_t(widest) * 4 + 1024);
  matvec_ = MatvecWeights::for_model(model, first_layer);
}

// RoPE angles computed as ggml does: theta advances by repeated multiplication with
// base^(-2/n_rot), scaled by freq_scale and divided by the frequency factors.
void CpuDevice::set_positions(const int32_t* pos, int32_t n) {
  if (n == 1) prefetch_.step_begins();
  const int32_t half = hp_.n_rot / 2;
  const float theta_scale = std::pow(hp_.rope_freq_base, -2.0f / float(hp_.n_rot));
  const auto& ff = rope_freq_factors_;
  for (int32_t i = 0; i < n; ++i) {
    float theta = float(pos[i]);
    for (int32_t p = 0; p < half; ++p) {
      const float f = ff.empty() ? 1.0f : ff[size_t(p)];
      const float t = hp_.rope_freq_scale * (theta / f);
      rope_cos_.as<float>()[size_t(i) * half + p] = std::cos(t);
      rope_sin_.as<float>()[size_t(i) * half + p] = std::sin(t);
      theta *= theta_scale;
    }
  }
}

void CpuDevice::rope(Act dst, int32_t n_heads, int32_t rows) {
  const int32_t half = hp_.n_rot / 2;
  for (int32_t i = 0; i < rows; ++i) {
    const float* c = rope_cos_.as<float>() + size_t(i) * half;
    const float* sn = rope_sin_.as<float>() + size_t(i) * half;
    for (int32_t h = 0; h < n_heads; ++h) {
      float* x = row(dst, i) + size_t(h) * hp_.head_dim;
      if (!neox_) {  // adjacent pairs (2p, 2p+1)
        for (int32_t p = 0; p < half; ++p) {
          const float x0 = x[2 * p], x1 = x[2 * p + 1];
          x[2 * p] = x0 * c[p] - x1 * sn[p];
          x[2 * p + 1] = x0 * sn[p] + x1 * c[p];
        }
      } else {  // neox: (p, p + n_rot/2)
        for (int32_t p = 0; p < half; ++p) {
          const float x0 = x[p], x1 = x[p + half];
          x[p] = x0 * c[p] - x1 * sn[p];
          x[p + half] = x0 * sn[p] + x1 * c[p];
        }
      }
    }
  }
}

void CpuDevice::matmul(std::span<const MatJob> jobs, Act in, int32_t rows) {
  constexpr int kMax = 3;
  if (jobs.empty() || jobs.size() > size_t(kMax)) throw std::logic_error("matmul: 1 to 3 products at once");
  const Matrix* w[kMax];
  float* out[kMax];
  for (size_t i = 0; i < jobs.size(); ++i) {
    w[i] = jobs[i].w;
    if (w[i]->ne0 != width_[int(in)] || w[i]->ne1 != width_[int(jobs[i].out)])
      throw std::logic_error("matmul: a matrix does not fit its activation buffers");
    out[i] = row(jobs[i].out, 0);
  }
  products(w, out, int(jobs.size()), in, rows);
}

// One-token products are timed while the prefetch tuner measures (row_prefetch.h).
void CpuDevice::products(const Matrix* const* w, float* const* out, int count, Act in_act, int32_t n) {
  if (n != 1 || !prefetch_.timing()) return products_untimed(w, out, count, in_act, n);
  const auto t0 = std::chrono::steady_clock::now();
  products_untimed(w, out, count, in_act, n);
  prefetch_.add(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void CpuDevice::products_untimed(const Matrix* const* w, float* const* out, int count, Act in_act, int32_t n) {
  const float* in = row(in_act, 0);
  const int64_t K = w[0]->ne0;
  constexpr int kMax = 3;
  const DotKernel* kern[kMax] = {};
  const GemmKernel* gk[kMax] = {};
  bool gemm = n > 1;
  bool tails = false;  // some rows outside full GEMM panels
  // The matrices' copies in huge pages (matvec_weights.h): verbatim ones replace the stored
  // rows everywhere, packed ones serve below the GEMM threshold (mat-vec, small batches).
  const MatvecWeights::View* copy[kMax] = {};
  for (int i = 0; i < count; ++i) {
    kern[i] = dot_kernel(w[i]->type);
    if (!kern[i]) throw std::runtime_error("no dot-product kernel for " + std::string(type_name(w[i]->type)));
    copy[i] = matvec_ ? matvec_->find(*w[i]) : nullptr;
    if (gemm) {
      gk[i] = gemm_kernel(w[i]->type);
      if (!gk[i] || n < gemm_min_tokens(*gk[i], copy[i] ? copy[i]->format : nullptr)) gemm = false;
      else if (w[i]->ne1 % gk[i]->rows != 0) tails = true;
    }
  }
  if (gemm)
    for (int i = 0; i < count; ++i)
      if (copy[i] && copy[i]->format) copy[i] = nullptr;  // the GEMM reads the stored layout

  // Activation formats needed: GEMM layouts, the packed layout, and vec_dot types for the rows
  // outside panels.
  enum class Kind { Dot, Gemm, Packed };
  struct Fmt {
    Kind kind;
    GemmAct ga;                 // Gemm
    GgmlType vt;                // Dot
    const PackedFormat* pf;     // Packed
    size_t stride;
    const uint8_t* data;
  };
  Fmt fmts[2 * kMax];
  int n_fmts = 0;
  int gemm_fmt[kMax] = {}, dot_fmt[kMax] = {};
  // Packed formats with one activation layout (Q4_K and Q5_K) share one prepared row.
  auto same = [](const Fmt& a, const Fmt& b) {
    if (a.kind != b.kind) return false;
    if (a.kind == Kind::Gemm) return a.ga == b.ga;
    if (a.kind == Kind::Packed) return a.pf->prepare == b.pf->prepare;
    return a.vt == b.vt;
  };
  auto find_or_add = [&](const Fmt& want) {
    for (int f = 0; f < n_fmts; ++f)
      if (same(fmts[f], want)) return f;
    fmts[n_fmts] = want;
    return n_fmts++;
  };
  for (int i = 0; i < count; ++i) {
    if (gemm) gemm_fmt[i] = find_or_add({Kind::Gemm, gk[i]->act, GgmlType::F32, nullptr, 0, nullptr});
    if (copy[i] && copy[i]->format)
      dot_fmt[i] = find_or_add({Kind::Packed, GemmAct::F32, GgmlType::F32, copy[i]->format, 0, nullptr});
    else if (!gemm || tails)
      dot_fmt[i] = find_or_add({Kind::Dot, GemmAct::F32, kern[i]->vec_dot_type, nullptr, 0, nullptr});
  }
  int n_buf = 0;
  bool convert = false;
  for (int f = 0; f < n_fmts; ++f) {
    Fmt& F = fmts[f];
    if (F.kind == Kind::Dot && F.vt == GgmlType::F32) {
      F.stride = size_t(K) * sizeof(float);
      F.data = reinterpret_cast<const uint8_t*>(in);
      continue;
    }
    F.stride = F.kind == Kind::Gemm     ? gemm_act_bytes(F.ga, K)
               : F.kind == Kind::Packed ? F.pf->act_row_bytes(K)
                                        : row_size(F.vt, K);
    Buffer& b = prepared_[n_buf++];
    b.reserve(F.stride * size_t(n));
    F.data = b.data();
    convert = true;
  }
  if (convert) {
    auto prep = [&](int64_t t0, int64_t t1, int) {
      for (int f = 0; f < n_fmts; ++f) {
        const Fmt& F = fmts[f];
        if (F.kind == Kind::Dot && F.vt == GgmlType::F32) continue;
        uint8_t* dst = const_cast<uint8_t*>(F.data);
        for (int64_t t = t0; t < t1; ++t) {
          if (F.kind == Kind::Gemm) gemm_prepare(F.ga, in + t * K, K, dst + size_t(t) * F.stride);
          else if (F.kind == Kind::Packed) F.pf->prepare(in + t * K, K, dst + size_t(t) * F.stride);
          else quantize_row_activation(F.vt, in + t * K, dst + size_t(t) * F.stride, K);
        }
      }
    };
    if (n == 1) prep(0, 1, 0);
    else pool_.parallel_for(n, 1, prep);
  }

  // Rows r of matrix i through the dot kernels, for every row of the batch, prefetching the
  // rows ahead unless this device's tuner found that it does not pay (row_prefetch.h).
  const size_t ahead = prefetch_.ahead();
  auto dot_rows = [&](int i, int64_t r0, int64_t r1) {
    const Matrix& m = *w[i];
    const int64_t M = m.ne1;
    const Fmt& F = fmts[dot_fmt[i]];
    float* o = out[i];
    // The stored rows, or their mat-vec copy: packed (its own kernel) or verbatim.
    const RowStream s = row_stream(m, copy[i], kern[i]->vec_dot);
    if (n == 1) {
      stream_rows(s, r0, r1, o + r0, F.data, ahead);
      return;
    }
    stream_rows_batch(s, r0, r1, o + r0, size_t(M), F.data, F.stride, n, ahead);
  };

  if (!gemm) {
    // Each matrix starts on a multiple of 16 rows, so chunks (multiples of 16) start on panels.
    int64_t off[kMax + 1] = {0};
    for (int i = 0; i < count; ++i) off[i + 1] = off[i] + (w[i]->ne1 + 15) / 16 * 16;
    pool_.parallel_for(off[count], 16, [&](int64_t b, int64_t e, int) {
      for (int i = 0; i < count; ++i) {
        const int64_t lo = std::max(b, off[i]), hi = std::min({e, off[i + 1], off[i] + w[i]->ne1});
        if (lo < hi) dot_rows(i, lo - off[i], hi - off[i]);
      }
    });
    return;
  }

  // GEMM: panels of gk->rows weight rows, each packed once and run against all n rows; a last
  // partial panel goes through the dot kernels.
  int64_t poff[kMax + 1] = {0};
  for (int i = 0; i < count; ++i) {
    const int64_t R = gk[i]->rows;
    poff[i + 1] = poff[i] + (w[i]->ne1 + R - 1) / R;
  }
  pool_.parallel_for(poff[count], 1, [&](int64_t b, int64_t e, int tid) {
    uint8_t* panel = thread_[size_t(tid)].data() + attn_floats_ * sizeof(float);
    for (int64_t p = b; p < e; ++p) {
      int i = 0;
      while (p >= poff[i + 1]) ++i;
      const Matrix& m = *w[i];
      const int64_t R = gk[i]->rows, M = m.ne1;
      const int64_t r0 = (p - poff[i]) * R;
      if (r0 + R > M) {
        dot_rows(i, r0, M);
        continue;
      }
      const Fmt& F = fmts[gemm_fmt[i]];
      if (const MatvecWeights::View* c = copy[i])
        gk[i]->pack(c->data + size_t(r0) * c->row_bytes, c->row_bytes, K, panel);
      else
        gk[i]->pack(m.row(r0), m.row_bytes, K, panel);
      gk[i]->compute(panel, K, F.data, F.stride, n, out[i] + r0, M);
    }
  });
}

void CpuDevice::attention(const KvCache& kv, int layer, std::span<const AttnJob> jobs, int32_t window, float softcap) {
  const int32_t hd = hp_.head_dim, n_head = hp_.n_head, group = hp_.n_head / hp_.n_head_kv;
  const float scale = hp_.attn_scale;
  const int64_t Q = hp_.n_embd_q();
  const auto attend = op_.attend;
  float* q = row(Act::Q, 0);
  float* attn = row(Act::Attn, 0);
  pool_.parallel_for(int64_t(jobs.size()) * n_head, 1, [&](int64_t b, int64_t e, int tid) {
    float* scratch = thread_[size_t(tid)].as<float>();
    for (int64_t job = b; job < e; ++job) {
      const AttnJob& J = jobs[size_t(job / n_head)];
      const int32_t h = int32_t(job % n_head);
      const int32_t kvh = h / group;
      AttnArgs a;
      a.q = q + size_t(J.q_row) * Q + size_t(h) * hd;
      a.q_stride = Q;
      a.k = kv.k_head(layer, kvh);
      a.v = kv.v_head(layer, kvh);
      a.f16 = kv.type() == KvType::F16;
      a.k_scales = kv.k_scales(layer, kvh);
      a.v_scales = kv.v_scales(layer, kvh);
      a.blocks = J.blocks;
      a.out = attn + size_t(J.out_row) * Q + size_t(h) * hd;
      a.out_stride = Q;
      a.head_dim = hd;
      a.n_q = J.n_q;
      a.pos0 = J.pos0;
      a.scale = scale;
      a.window = window;
      a.softcap = softcap;
      a.scratch = scratch;
      attend(a);
    }
  });
}

}  // namespace

std::unique_ptr<Device> make_cpu_device(const Model& model, int32_t max_rows, int32_t max_keys, int32_t n_threads,
                                        int32_t first_layer) {
  return std::make_unique<CpuDevice>(model, max_rows, max_keys, n_threads, first_layer);
}

}  // namespace nnb
