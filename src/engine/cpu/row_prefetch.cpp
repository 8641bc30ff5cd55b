#include "engine/cpu/row_prefetch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace nnb {

void stream_rows(const RowStream& s, int64_t r0, int64_t r1, float* out, const uint8_t* act, size_t ahead) {
  const uint8_t* base = s.data;
  const size_t rb = s.row_bytes;
  if (s.format) {  // a panel a call, the kernel prefetching as it reads
    for (int64_t r = r0; r < r1; r += s.format->panel)
      s.format->dot_panel(s.K, out + (r - r0), 0, base + size_t(r) * rb, act, 0, 1, ahead);
    return;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = base + size_t(r) * rb;
    if (ahead) prefetch_lines(row + ahead, rb);
    s.dot(s.K, out + (r - r0), row, act);
  }
}

void stream_rows_batch(const RowStream& s, int64_t r0, int64_t r1, float* out, size_t out_stride, const uint8_t* act,
                       size_t act_stride, int n, size_t ahead) {
  const uint8_t* base = s.data;
  const size_t rb = s.row_bytes;
  if (const PackedFormat* f = s.format) {
    for (int64_t r = r0; r < r1; r += f->panel)  // the kernel prefetches as it goes
      f->dot_panel(s.K, out + (r - r0), out_stride, base + size_t(r) * rb, act, act_stride, n, ahead);
    return;
  }
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = base + size_t(r) * rb;
    if (ahead) prefetch_lines(row + ahead, rb);
    float* o = out + (r - r0);
    for (int t = 0; t < n; ++t) s.dot(s.K, o + size_t(t) * out_stride, row, act + size_t(t) * act_stride);
  }
}

namespace {

// NNB_PREFETCH: unset, empty or "auto" → measure (-1); "0" → off; a byte count → that distance.
// Anything else is named on stderr once and measured.
long prefetch_setting() {
  const char* e = std::getenv("NNB_PREFETCH");
  if (!e || !*e || std::strcmp(e, "auto") == 0) return -1;
  char* end = nullptr;
  const long v = std::strtol(e, &end, 10);
  if (*end == '\0' && v >= 0 && v <= (1L << 20)) return v;
  static const bool warned = [&] {
    std::fprintf(stderr, "nnbridge: warning: NNB_PREFETCH=%s not understood (auto, 0, or bytes up to 1 MiB); measuring\n",
                 e);
    return true;
  }();
  (void)warned;
  return -1;
}

}  // namespace

PrefetchTuner::PrefetchTuner() { init(prefetch_setting()); }

void PrefetchTuner::init(long fixed) {
  decided_ = fixed >= 0;
  ahead_ = decided_ ? size_t(fixed) : kRowPrefetchBytes;
}

void PrefetchTuner::step_begins() {
  if (decided_) return;
  ++step_;
  if (step_ <= kSkip) {  // the steps before step kSkip are not timed; step kSkip is the first
    current_ = 0;
    ahead_ = kRowPrefetchBytes;
    return;
  }
  // Steps kSkip, kSkip + 2, ... ran with the prefetch, the ones between without.
  const bool ended_with = (step_ - 1 - kSkip) % 2 == 0;
  if (ended_with) {
    on_ = current_;
  } else if (current_ > 0 && on_ > 0) {
    ratios_[size_t(pairs_++)] = on_ / current_;
  }
  current_ = 0;
  ahead_ = ended_with ? 0 : kRowPrefetchBytes;
  if (pairs_ == kPairs) {
    std::sort(ratios_.begin(), ratios_.end());
    ahead_ = ratios_[kPairs / 2] <= 1.02 ? kRowPrefetchBytes : 0;
    decided_ = true;
  }
}

}  // namespace nnb
