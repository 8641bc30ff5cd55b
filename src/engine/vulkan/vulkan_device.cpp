#include "engine/vulkan/vulkan_device.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "engine/quant/quants.h"

namespace nnb {
namespace {

using vk::Binding;
using vk::Buffer;
using vk::Gpu;

// A weight matrix on the GPU: row ranges in buffers of at most maxStorageBufferRange bytes and
// 65,535 rows (a dispatch's workgroup count).
struct GpuMatrix {
  GgmlType type;
  int64_t ne0 = 0, ne1 = 0;
  size_t row_bytes = 0;
  struct Chunk {
    Buffer buf;
    int64_t row0, rows;
  };
  std::vector<Chunk> chunks;
};

// A model's weights on one GPU, shared by every context (keyed by the host views' addresses).
struct GpuWeights {
  std::map<const void*, GpuMatrix> mats;
  std::map<const float*, Buffer> vecs;
  uint64_t bytes = 0;
};

// The shader-name suffix of a weight type (matvec_<t>, matvec_sg_<t>, matmat_<t>), or nullptr.
const char* type_suffix(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return "f32";
    case GgmlType::F16: return "f16";
    case GgmlType::Q8_0: return "q8_0";
    case GgmlType::Q4_0: return "q4_0";
    case GgmlType::Q4_K: return "q4_k";
    case GgmlType::Q6_K: return "q6_k";
    case GgmlType::BF16: return "bf16";
    case GgmlType::Q4_1: return "q4_1";
    case GgmlType::Q5_0: return "q5_0";
    case GgmlType::Q5_1: return "q5_1";
    case GgmlType::Q2_K: return "q2_k";
    case GgmlType::Q3_K: return "q3_k";
    case GgmlType::Q5_K: return "q5_k";
    case GgmlType::IQ4_NL: return "iq4_nl";
    case GgmlType::IQ4_XS: return "iq4_xs";
    default: return nullptr;
  }
}

// Batch rows from which a product runs as matrix-matrix (matmat.comp: tiles of 64 weight rows x
// 32 batch rows) rather than matrix-vector (matvec.comp: 4 batch rows per workgroup, so each
// weight is dequantized once per 4) on a GPU. Not measured on one yet (none in CI; llama.cpp's
// Vulkan backend switches at a similar size). On a CPU device (lavapipe) matvec was faster at
// every batch size measured, 16 to 256 rows (pp tokens/s of a 22M Q4_0 model: 44 vs 20 at
// 16, 39 vs 35 at 256), so it never uses matmat there.
constexpr int32_t kMatMinRows = 32;

// Records y[t][row0 + r] = dot(W row r, x[t]) for every chunk of g and n batch rows (x rows at
// x_off + t * x_stride floats, y rows y_stride floats apart) with the shader kernel picks.
void record_product(Gpu& gpu, vk::Recorder& rec, const GpuMatrix& g, Binding x, uint32_t x_off, uint32_t x_stride,
                    Binding y, uint32_t y_stride, int32_t n, vk::MatKernel kernel, bool subgroups) {
  using vk::MatKernel;
  if (kernel == MatKernel::Auto)
    kernel = n >= kMatMinRows && gpu.info().type != "cpu" ? MatKernel::Mat : MatKernel::Vec;
  const std::string t = type_suffix(g.type);
  const vk::DeviceInfo& info = gpu.info();
  constexpr uint32_t kPush = 8 * sizeof(uint32_t);
  const vk::Pipeline* pipe = nullptr;
  uint32_t rows_per_group = 1, batch_per_group = 1;
  switch (kernel) {
    case MatKernel::Vec: {
      // A subgroup per row where the device sums subgroups (about 128 threads a workgroup),
      // else 16 threads per row and 8 rows; the activations staged in what shared memory is
      // left (at most 32 KiB of it).
      const bool sg = subgroups && info.subgroup_arithmetic;
      // (Every device runs workgroups of 128: maxComputeWorkGroupInvocations is at least that.)
      const uint32_t wg = sg ? std::max<uint32_t>(128, info.subgroup_size) : 128;
      rows_per_group = sg ? wg / info.subgroup_size : 8;
      const uint32_t red_bytes = sg ? 0 : 4 * wg * sizeof(float);
      const uint32_t xs = std::clamp<uint32_t>((info.max_shared_bytes - red_bytes) / 16 * 4, 4, 8192);
      pipe = &gpu.pipeline((sg ? "matvec_sg_" : "matvec_") + t, 5, kPush, {wg, rows_per_group, xs});
      batch_per_group = 4;
      break;
    }
    default:
      pipe = &gpu.pipeline("matmat_" + t, 5, kPush);
      rows_per_group = 64;
      batch_per_group = 32;
  }
  for (const GpuMatrix::Chunk& c : g.chunks) {
    const uint32_t pc[8] = {uint32_t(g.ne0), uint32_t(n),          x_off,          x_stride,
                            y_stride,        uint32_t(c.row0), uint32_t(g.row_bytes), uint32_t(c.rows)};
    const Binding wb{&c.buf};
    rec.dispatch(*pipe, {wb, wb, wb, x, y}, pc, uint32_t((c.rows + rows_per_group - 1) / rows_per_group),
                 uint32_t((n + int32_t(batch_per_group) - 1) / int32_t(batch_per_group)));
  }
}

// The matrix as GPU chunks of at most `per` rows (and maxStorageBufferRange bytes).
GpuMatrix upload_matrix(Gpu& gpu, GgmlType type, int64_t ne0, int64_t ne1, size_t row_bytes, const uint8_t* data,
                        int64_t per, const std::string& what) {
  GpuMatrix g;
  g.type = type;
  g.ne0 = ne0;
  g.ne1 = ne1;
  g.row_bytes = row_bytes;
  per = std::min<int64_t>(per, int64_t((gpu.max_range() - 16) / row_bytes));
  if (per < 1) throw vk::Error("vulkan: a row of " + what + " exceeds the device's largest buffer");
  for (int64_t r0 = 0; r0 < ne1; r0 += per) {
    const int64_t rows = std::min(per, ne1 - r0);
    // Padded to whole 16 bytes: the shaders read the last bytes as part of a 32-bit word.
    GpuMatrix::Chunk c{gpu.buffer((uint64_t(rows) * row_bytes + 15) / 16 * 16, false), r0, rows};
    gpu.upload(c.buf, 0, data + size_t(r0) * row_bytes, uint64_t(rows) * row_bytes);
    g.chunks.push_back(std::move(c));
  }
  return g;
}

// Layers [0, n_layers) and, when that is all of them, the output (what the device computes).
std::shared_ptr<GpuWeights> upload_weights(Gpu& gpu, const Model& model, int32_t n_layers) {
  const bool all = n_layers >= int32_t(model.layers().size());
  auto w = std::make_shared<GpuWeights>();
  auto matrix = [&](const Matrix& m, const std::string& what) {
    if (w->mats.count(m.data)) return;
    if (!type_suffix(m.type))
      throw vk::Error("vulkan: " + what + " is " + std::string(type_name(m.type)) +
                      ", which the Vulkan device does not compute yet (it has F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS); use --device cpu");
    // 65,535 rows at most: a dispatch's workgroup count, whatever the shader's rows per workgroup.
    GpuMatrix g = upload_matrix(gpu, m.type, m.ne0, m.ne1, m.row_bytes, static_cast<const uint8_t*>(m.row(0)), 65535, what);
    for (const auto& c : g.chunks) w->bytes += c.buf.size;
    w->mats.emplace(m.data, std::move(g));
  };
  auto vec = [&](const std::vector<float>& v) {
    if (v.empty() || w->vecs.count(v.data())) return;
    Buffer b = gpu.buffer(v.size() * sizeof(float), false);
    gpu.upload(b, 0, v.data(), v.size() * sizeof(float));
    w->bytes += b.size;
    w->vecs.emplace(v.data(), std::move(b));
  };
  // A model larger than the device's memory is refused with the sizes before anything is
  // uploaded (the rest of a context — activations, KV cache — is checked by its allocation).
  if (all && model.weight_bytes() > gpu.info().device_local_bytes)
    throw vk::Error("vulkan: the model's weights (" + std::to_string(model.weight_bytes() >> 20) + " MiB) exceed " +
                    gpu.info().name + "'s device memory (" + std::to_string(gpu.info().device_local_bytes >> 20) +
                    " MiB); use --device cpu, or --n-gpu-layers for part of the layers");
  for (size_t l = 0; l < size_t(std::max(n_layers, 0)) && l < model.layers().size(); ++l) {
    const Layer& L = model.layers()[l];
    const std::string blk = "blk." + std::to_string(l) + ".";
    matrix(L.wq, blk + "attn_q");
    matrix(L.wk, blk + "attn_k");
    matrix(L.wv, blk + "attn_v");
    matrix(L.wo, blk + "attn_output");
    if (L.w_gate) matrix(L.w_gate, blk + "ffn_gate");
    matrix(L.w_up, blk + "ffn_up");
    matrix(L.w_down, blk + "ffn_down");
    for (const auto* v : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv, &L.attn_post_norm, &L.ffn_post_norm,
                          &L.attn_norm_b, &L.ffn_norm_b, &L.bo, &L.b_up, &L.b_down})
      vec(*v);
  }
  if (all) {
    matrix(model.output(), model.output_tied() ? "token_embd (tied output)" : "output");
    vec(model.output_norm());
    vec(model.output_norm_bias());
  }
  vec(model.rope_freq_factors());
  return w;
}

// Weights shared per (model, GPU) while some device uses them.
std::shared_ptr<GpuWeights> shared_weights(const std::shared_ptr<Gpu>& gpu, const Model& model, int32_t n_layers) {
  static std::mutex mu;
  static std::map<std::tuple<const Model*, const Gpu*, int32_t>, std::weak_ptr<GpuWeights>> all;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = all[{&model, gpu.get(), n_layers}];
  if (auto w = slot.lock()) return w;
  auto w = upload_weights(*gpu, model, n_layers);
  slot = w;
  return w;
}

class VulkanDevice final : public Device {
 public:
  VulkanDevice(const Model& model, uint32_t index, int32_t max_rows, int32_t kv_cells, int32_t n_layers);
  ~VulkanDevice() override = default;

  std::string describe() const override {
    return "vulkan:" + std::to_string(gpu_->info().index) + " " + gpu_->info().name + " (" + gpu_->info().type + ")";
  }
  int32_t n_threads() const override { return 1; }
  bool is_cpu() const override { return false; }
  int32_t max_rows() const override { return max_rows_; }

  void embed(const Matrix& emb, const int32_t* tokens, int32_t n) override;
  void set_positions(const int32_t* pos, int32_t n) override { pos_ = rec_.stage(pos, size_t(n) * sizeof(int32_t)); }
  void rms_norm(Act src, Act dst, const std::vector<float>& w, int32_t rows, float eps) override;
  void matmul(std::span<const MatJob> jobs, Act in, int32_t rows) override;
  void matmul_to_host(const Matrix& w, Act in, int32_t rows, float* out) override;
  void add_bias(Act dst, const std::vector<float>& b, int32_t rows) override;
  void rope(Act dst, int32_t n_heads, int32_t rows) override;
  void kv_store(KvCache& kv, int layer, const int32_t* cells, int32_t rows) override;
  void attention(const KvCache& kv, int layer, std::span<const AttnJob> jobs, int32_t window, float softcap) override;
  void gather_rows(Act buf, const int32_t* rows, int32_t m) override;
  void add(Act dst, Act src, int32_t rows) override { elementwise("ew_add", act(dst), act(src), dummy(), uint32_t(rows * width_[int(dst)]), 0); }
  void swiglu(int32_t rows) override {
    elementwise("ew_swiglu", act(Act::Gate), act(Act::Up), dummy(), uint32_t(rows * width_[int(Act::Gate)]), 0);
  }
  void gelu(Act a, int32_t rows) override {
    elementwise("ew_gelu", act(a), dummy(), dummy(), uint32_t(rows * width_[int(a)]), 0);
  }
  void layer_norm(Act src, Act dst, const std::vector<float>& w, const std::vector<float>& b, int32_t rows,
                  float eps) override {
    struct {
      uint32_t n, stride;
      float eps;
    } pc{uint32_t(w.size()), uint32_t(width_[int(src)]), eps};
    rec_.dispatch(gpu_->pipeline("layer_norm", 4, sizeof pc), {act(src), act(dst), vec(w), vec(b)}, &pc, uint32_t(rows));
  }
  void geglu(int32_t rows) override {
    elementwise("ew_geglu", act(Act::Gate), act(Act::Up), dummy(), uint32_t(rows * width_[int(Act::Gate)]), 0);
  }
  void scale(Act a, int32_t rows, float s) override {
    uint32_t bits;
    std::memcpy(&bits, &s, sizeof bits);
    elementwise("ew_scale", act(a), dummy(), dummy(), uint32_t(rows * width_[int(a)]), bits);
  }
  void kv_copy_block(int32_t from, int32_t to) override;
  void read_act(Act a, int32_t rows, float* host) override {
    const uint64_t bytes = uint64_t(rows) * uint64_t(width_[int(a)]) * sizeof(float);
    if (!readback_ || readback_.size < bytes) readback_ = gpu_->buffer(bytes, true);
    rec_.copy(act_[int(a)], 0, readback_, 0, bytes);
    submit();
    std::memcpy(host, readback_.map, bytes);
  }
  void write_act(Act a, int32_t rows, const float* host) override {
    const uint64_t bytes = uint64_t(rows) * uint64_t(width_[int(a)]) * sizeof(float);
    rec_.copy(rec_.stage(host, bytes), act_[int(a)], 0, bytes);
  }
  void begin() override {
    rec_.discard();
    forget_staged();
  }
  void finish() override { submit(); }

 private:
  Binding act(Act a) const { return Binding{&act_[int(a)]}; }
  Binding dummy() const { return Binding{&dummy_}; }
  Binding vec(const std::vector<float>& v) const {
    auto it = w_->vecs.find(v.data());
    if (it == w_->vecs.end()) throw std::logic_error("vulkan: a weight vector was not uploaded");
    return Binding{&it->second};
  }
  void elementwise(const char* shader, Binding a, Binding b, Binding idx, uint32_t n, uint32_t width);
  // Every layer of a pass uses the same KV cells and (but for the last layer's subset) the same
  // attention jobs: they are staged once per pass, keyed by the caller's array. A submission
  // reuses the staging arena, so it forgets them.
  struct Staged {
    const void* key = nullptr;
    size_t n = 0;
    Binding a{nullptr}, b{nullptr};
    bool is(const void* k, size_t count) const { return key == k && n == count; }
  };
  void forget_staged() { cells_staged_ = jobs_staged_ = Staged{}; }
  void submit() {
    rec_.submit();
    forget_staged();
  }
  void product(const GpuMatrix& g, Binding x, uint32_t x_off, uint32_t x_stride, Binding y, uint32_t y_stride, int32_t rows);

  const Model& model_;
  const Hparams& hp_;
  std::shared_ptr<Gpu> gpu_;
  std::shared_ptr<GpuWeights> w_;
  vk::Recorder rec_;
  int32_t max_rows_, cap16_;
  int64_t width_[kActCount];
  Buffer act_[kActCount];
  std::vector<Buffer> kc_, vc_;  // per layer: [kv head][cell][head_dim]
  Buffer logits_;                // host-visible, logits_rows_ rows of n_vocab
  int32_t logits_rows_ = 0;
  Buffer dummy_;
  Buffer readback_;  // host-visible, for read_act
  Binding pos_{nullptr};
  std::vector<float> embd_;           // embedding rows before upload
  std::vector<int32_t> job_ints_, block_ints_;
  std::vector<std::pair<const int32_t*, int32_t>> tables_;  // attention: (block table, blocks needed)
  Staged cells_staged_, jobs_staged_;
};

VulkanDevice::VulkanDevice(const Model& model, uint32_t index, int32_t max_rows, int32_t kv_cells, int32_t n_layers)
    : model_(model),
      hp_(model.hparams()),
      gpu_(Gpu::open(index)),
      w_(shared_weights(gpu_, model, std::min(n_layers, model.hparams().n_layer))),
      rec_(gpu_),
      max_rows_(max_rows),
      cap16_((kv_cells + 15) / 16 * 16) {
  if (hp_.head_dim > 256) throw vk::Error("vulkan: head dimension " + std::to_string(hp_.head_dim) + " > 256");
  for (int a = 0; a < kActCount; ++a) {
    width_[a] = act_width(hp_, Act(a));
    act_[a] = gpu_->buffer(uint64_t(max_rows) * uint64_t(width_[a]) * sizeof(float), false);
  }
  const uint64_t kv_bytes = uint64_t(cap16_) * uint64_t(hp_.n_head_kv) * uint64_t(hp_.head_dim) * sizeof(float);
  for (int l = 0; l < std::min(n_layers, hp_.n_layer); ++l) {
    kc_.push_back(gpu_->buffer(kv_bytes, false));
    vc_.push_back(gpu_->buffer(kv_bytes, false));
  }
  const uint64_t row = uint64_t(hp_.n_vocab) * sizeof(float);
  logits_rows_ = int32_t(std::max<uint64_t>(1, std::min<uint64_t>(uint64_t(max_rows), std::min<uint64_t>(gpu_->max_range(), uint64_t(256) << 20) / row)));
  logits_ = gpu_->buffer(uint64_t(logits_rows_) * row, true);
  dummy_ = gpu_->buffer(16, false);
}

void VulkanDevice::elementwise(const char* shader, Binding a, Binding b, Binding idx, uint32_t n, uint32_t width) {
  struct {
    uint32_t n, width;
  } pc{n, width};
  const vk::Pipeline& p = gpu_->pipeline(shader, 3, sizeof pc);
  const uint32_t groups = (n + 255) / 256;
  const uint32_t gx = std::min<uint32_t>(groups, 65535), gy = (groups + gx - 1) / std::max<uint32_t>(gx, 1);
  rec_.dispatch(p, {a, b, idx}, &pc, gx, gy);
}

void VulkanDevice::embed(const Matrix& emb, const int32_t* tokens, int32_t n) {
  const int64_t E = hp_.n_embd;
  embd_.resize(size_t(n) * size_t(E));
  for (int32_t i = 0; i < n; ++i) dequantize_row(emb.type, emb.row(tokens[i]), embd_.data() + size_t(i) * size_t(E), E);
  const Binding staged = rec_.stage(embd_.data(), embd_.size() * sizeof(float));
  rec_.copy(staged, act_[int(Act::X)], 0, embd_.size() * sizeof(float));
}

void VulkanDevice::rms_norm(Act src, Act dst, const std::vector<float>& w, int32_t rows, float eps) {
  struct {
    uint32_t n, stride;
    float eps;
  } pc{uint32_t(w.size()), uint32_t(width_[int(src)]), eps};
  if (width_[int(src)] != width_[int(dst)]) throw std::logic_error("vulkan: rms_norm between buffers of different widths");
  rec_.dispatch(gpu_->pipeline("rms_norm", 3, sizeof pc), {act(src), act(dst), vec(w)}, &pc, uint32_t(rows));
}

void VulkanDevice::product(const GpuMatrix& g, Binding x, uint32_t x_off, uint32_t x_stride, Binding y, uint32_t y_stride,
                           int32_t rows) {
  record_product(*gpu_, rec_, g, x, x_off, x_stride, y, y_stride, rows, vk::MatKernel::Auto, true);
}

void VulkanDevice::matmul(std::span<const MatJob> jobs, Act in, int32_t rows) {
  for (const MatJob& j : jobs) {
    auto it = w_->mats.find(j.w->data);
    if (it == w_->mats.end()) throw std::logic_error("vulkan: a weight matrix was not uploaded");
    if (j.w->ne0 != width_[int(in)] || j.w->ne1 != width_[int(j.out)])
      throw std::logic_error("matmul: a matrix does not fit its activation buffers");
    product(it->second, act(in), 0, uint32_t(width_[int(in)]), act(j.out), uint32_t(width_[int(j.out)]), rows);
  }
}

void VulkanDevice::matmul_to_host(const Matrix& w, Act in, int32_t rows, float* out) {
  auto it = w_->mats.find(w.data);
  if (it == w_->mats.end()) throw std::logic_error("vulkan: the output matrix was not uploaded");
  const size_t V = size_t(w.ne1);
  for (int32_t r0 = 0; r0 < rows; r0 += logits_rows_) {
    const int32_t n = std::min(logits_rows_, rows - r0);
    product(it->second, act(in), uint32_t(r0 * width_[int(in)]), uint32_t(width_[int(in)]), Binding{&logits_}, uint32_t(V), n);
    submit();
    std::memcpy(out + size_t(r0) * V, logits_.map, size_t(n) * V * sizeof(float));
  }
}

void VulkanDevice::add_bias(Act dst, const std::vector<float>& b, int32_t rows) {
  if (int64_t(b.size()) != width_[int(dst)]) throw std::logic_error("vulkan: a bias of the wrong width");
  elementwise("ew_add_bias", act(dst), vec(b), dummy(), uint32_t(rows * width_[int(dst)]), uint32_t(b.size()));
}

void VulkanDevice::rope(Act dst, int32_t n_heads, int32_t rows) {
  const auto& ff = model_.rope_freq_factors();
  struct {
    uint32_t head_dim, n_rot, stride, neox, has_ff;
    float theta_scale, freq_scale;
  } pc{uint32_t(hp_.head_dim), uint32_t(hp_.n_rot), uint32_t(width_[int(dst)]),
       model_.arch().rope == RopeType::Neox ? 1u : 0u, ff.empty() ? 0u : 1u,
       std::pow(hp_.rope_freq_base, -2.0f / float(hp_.n_rot)), hp_.rope_freq_scale};
  rec_.dispatch(gpu_->pipeline("rope", 3, sizeof pc), {act(dst), pos_, ff.empty() ? dummy() : vec(ff)}, &pc,
                uint32_t(rows), uint32_t(n_heads));
}

void VulkanDevice::kv_store(KvCache& kv, int layer, const int32_t* cells, int32_t rows) {
  if (!cells_staged_.is(cells, size_t(rows)))
    cells_staged_ = {cells, size_t(rows), rec_.stage(cells, size_t(rows) * sizeof(int32_t)), Binding{nullptr}};
  const Binding c = cells_staged_.a;
  struct {
    uint32_t head_dim, cap16, stride;
  } pc{uint32_t(hp_.head_dim), uint32_t(cap16_), uint32_t(width_[int(Act::K)])};
  rec_.dispatch(gpu_->pipeline("kv_store", 5, sizeof pc),
                {act(Act::K), act(Act::V), Binding{&kc_[size_t(layer)]}, Binding{&vc_[size_t(layer)]}, c}, &pc,
                uint32_t(rows), uint32_t(hp_.n_head_kv));
}

void VulkanDevice::attention(const KvCache& kv, int layer, std::span<const AttnJob> jobs, int32_t window,
                             float softcap) {
  if (!jobs_staged_.is(jobs.data(), jobs.size())) {
    // Jobs as 5 ints each; the block tables they use, once per sequence, concatenated (the
    // blocks each needs: up to its furthest job's last position).
    job_ints_.clear();
    block_ints_.clear();
    tables_.clear();
    auto table_of = [&](const int32_t* blocks) {
      size_t t = 0;
      while (t < tables_.size() && tables_[t].first != blocks) ++t;
      if (t == tables_.size()) tables_.push_back({blocks, 0});
      return t;
    };
    for (const AttnJob& j : jobs) {
      auto& need = tables_[table_of(j.blocks)].second;
      need = std::max(need, (j.pos0 + j.n_q + 15) / 16);
    }
    for (auto& [blocks, need] : tables_) {
      const int32_t n_blocks = need;
      need = int32_t(block_ints_.size());  // from here on: the table's offset in block_ints_
      block_ints_.insert(block_ints_.end(), blocks, blocks + n_blocks);
    }
    for (const AttnJob& j : jobs)
      job_ints_.insert(job_ints_.end(), {j.q_row, j.out_row, j.n_q, j.pos0, tables_[table_of(j.blocks)].second});
    jobs_staged_ = {jobs.data(), jobs.size(), rec_.stage(job_ints_.data(), job_ints_.size() * sizeof(int32_t)),
                    rec_.stage(block_ints_.data(), block_ints_.size() * sizeof(int32_t))};
  }
  const Binding jb = jobs_staged_.a, tb = jobs_staged_.b;
  struct {
    uint32_t head_dim, group, cap16, stride;
    float scale;
    uint32_t window;
    float softcap;
  } pc{uint32_t(hp_.head_dim), uint32_t(hp_.n_head / hp_.n_head_kv), uint32_t(cap16_), uint32_t(width_[int(Act::Q)]),
       hp_.attn_scale, uint32_t(std::max(window, 0)), softcap};
  rec_.dispatch(gpu_->pipeline("attention", 6, sizeof pc),
                {act(Act::Q), Binding{&kc_[size_t(layer)]}, Binding{&vc_[size_t(layer)]}, act(Act::Attn), jb, tb}, &pc,
                uint32_t(jobs.size()), uint32_t(hp_.n_head), 4);
}

void VulkanDevice::gather_rows(Act buf, const int32_t* rows, int32_t m) {
  if (buf == Act::Tmp || width_[int(buf)] != width_[int(Act::Tmp)])
    throw std::logic_error("vulkan: gather_rows goes through Tmp, which must be free and as wide");
  const Binding idx = rec_.stage(rows, size_t(m) * sizeof(int32_t));
  const uint32_t w = uint32_t(width_[int(buf)]);
  elementwise("ew_gather", act(buf), act(Act::Tmp), idx, uint32_t(m) * w, w);
  rec_.copy(act_[int(Act::Tmp)], 0, act_[int(buf)], 0, uint64_t(m) * w * sizeof(float));
}

void VulkanDevice::kv_copy_block(int32_t from, int32_t to) {
  const uint64_t blk = 16 * uint64_t(hp_.head_dim) * sizeof(float);
  for (int l = 0; l < int(kc_.size()); ++l)
    for (int32_t h = 0; h < hp_.n_head_kv; ++h) {
      const uint64_t head = uint64_t(h) * uint64_t(cap16_) * uint64_t(hp_.head_dim) * sizeof(float);
      rec_.copy(kc_[size_t(l)], head + uint64_t(from) * blk, kc_[size_t(l)], head + uint64_t(to) * blk, blk);
      rec_.copy(vc_[size_t(l)], head + uint64_t(from) * blk, vc_[size_t(l)], head + uint64_t(to) * blk, blk);
    }
}

}  // namespace

namespace vk {

std::vector<float> test_product(uint32_t index, GgmlType type, const void* w, int64_t K, int64_t M, const float* x,
                                int32_t n, MatKernel kernel, bool subgroups, int64_t rows_per_chunk) {
  auto gpu = Gpu::open(index);
  if (!type_suffix(type)) throw Error("vulkan: no shader for " + std::string(type_name(type)));
  const GpuMatrix g = upload_matrix(*gpu, type, K, M, row_size(type, K), static_cast<const uint8_t*>(w),
                                    rows_per_chunk > 0 ? rows_per_chunk : 65535, "the test matrix");
  Buffer xb = gpu->buffer(uint64_t(n) * uint64_t(K) * sizeof(float), false);
  gpu->upload(xb, 0, x, uint64_t(n) * uint64_t(K) * sizeof(float));
  Buffer yb = gpu->buffer(uint64_t(n) * uint64_t(M) * sizeof(float), true);
  Recorder rec(gpu);
  record_product(*gpu, rec, g, Binding{&xb}, 0, uint32_t(K), Binding{&yb}, uint32_t(M), n, kernel, subgroups);
  rec.submit();
  const float* out = static_cast<const float*>(yb.map);
  return std::vector<float>(out, out + size_t(n) * size_t(M));
}

}  // namespace vk

std::unique_ptr<Device> make_vulkan_device(const Model& model, uint32_t index, int32_t max_rows, int32_t kv_cells,
                                           int32_t n_layers) {
  return std::make_unique<VulkanDevice>(model, index, max_rows, kv_cells, n_layers);
}

}  // namespace nnb
