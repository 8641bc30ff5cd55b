// Software prefetch of weight rows ahead of the mat-vec kernels, where it pays on this machine.
//
// Generation streams every weight row once per token; a core's hardware prefetchers alone keep
// too few lines in flight for the memory's latency, more so where each thread's rows start
// anew every chunk and matrix. On a Zen 5 EPYC VM (2026-12-07) touching the lines 8 KiB ahead
// of the rows being read, into L1, raised one-thread generation of the 220M models by 3-30 %
// (F16 least) and of a 4096-wide model by 3-16 %; with two threads it is about even. On the
// Zen 4 VM of earlier sessions the same kind of prefetch (4-16 rows ahead into L1) made Q4_K
// generation 15-25 % slower. And a stream read alone (vec_dot_bench, or a calibration pass
// over the model's rows at load) did not predict it: with rows 8 KiB long the lone stream was
// up to 20 % slower with prefetch, the wide model's generation faster. So each CPU device
// measures its own first one-token steps both ways (PrefetchTuner) and keeps the faster;
// NNB_PREFETCH fixes it instead (0: off, N: N bytes ahead, auto: measure). The panel formats'
// kernels prefetch 2 super-blocks ahead even at 0 (vec_dot_panel_impl.h: without, Q5_K and
// Q6_K panels read from memory at a third of the speed).
// Prefetching never changes a result: the kernels see the same bytes in the same order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "engine/cpu/vec_dot.h"
#include "engine/cpu/vec_dot_packed.h"

namespace nnb {

// The distance tried (bytes ahead of the rows being read).
inline constexpr size_t kRowPrefetchBytes = 8192;

// Touches the cache lines of [p, p + bytes) for reading, into L1. Addresses past the end of a
// mapping are fine: a prefetch never faults.
inline void prefetch_lines(const uint8_t* p, size_t bytes) {
  for (size_t x = 0; x < bytes; x += 64) __builtin_prefetch(p + x, 0, 3);
}

// One matrix's rows as the mat-vec kernels read them: panels (format) or one row a call (dot).
struct RowStream {
  const PackedFormat* format;  // the packed layout's (nullptr: stored or verbatim rows)
  VecDotFn dot;                // the one-row kernel of stored or verbatim rows (none for a panel format)
  int64_t K;
  const uint8_t* data;  // row r at data + r * row_bytes
  size_t row_bytes;
  int64_t rows;
};

// out[r - r0] = row r against one prepared activation, r0 <= r < r1. A panel format goes a
// panel a call (r0, r1 on panel bounds), its kernel prefetching `ahead` bytes on as it reads
// (at least 2 super-blocks); other rows one a call, with `ahead` > 0 each preceded by the
// prefetch of its bytes that far further on.
void stream_rows(const RowStream& s, int64_t r0, int64_t r1, float* out, const uint8_t* act, size_t ahead);

// The same for n tokens (a small batch): out[t * out_stride + r - r0] = row r against prepared
// activation t (act + t * act_stride). A panel is read once for all n (dot_panel; r0, r1 on
// panel bounds); other rows through the one-row kernel per token, with ahead > 0 each row
// preceded by the prefetch of its bytes that far further on.
void stream_rows_batch(const RowStream& s, int64_t r0, int64_t r1, float* out, size_t out_stride, const uint8_t* act,
                       size_t act_stride, int n, size_t ahead);

// Chooses the prefetch distance from the device's own one-token steps: after kSkip steps (the
// first ones fault pages in and warm the caches) it runs kPairs pairs of steps, one with the
// prefetch and one without, sums the time of each step's mat-vec products, and keeps the
// prefetch unless the median ratio of a pair's times says it is over 2 % slower. Paired steps
// a few ms apart see the same neighbours' load (this VM's step times drift by 30 % between
// seconds); steps with more than one token (prompts, batches) are not timed. NNB_PREFETCH=0|N
// fixes the distance and nothing is timed.
class PrefetchTuner {
 public:
  static constexpr int kSkip = 2, kPairs = 8;
  PrefetchTuner();                                  // from NNB_PREFETCH
  explicit PrefetchTuner(long fixed) { init(fixed); }  // -1: measure, else that many bytes

  size_t ahead() const { return ahead_; }  // for the step under way
  bool timing() const { return step_ >= kSkip && !decided_; }
  bool decided() const { return decided_; }
  // A one-token step begins / one of its products took `seconds`.
  void step_begins();
  void add(double seconds) { current_ += seconds; }

 private:
  void init(long fixed);
  size_t ahead_ = 0;
  bool decided_ = false;
  int step_ = -1;  // one-token steps begun, less one
  double current_ = 0, on_ = 0;
  std::array<double, kPairs> ratios_{};  // with / without, per pair (no allocation per token)
  int pairs_ = 0;
};

}  // namespace nnb
