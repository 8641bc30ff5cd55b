#include "engine/cpu/threadpool.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#if defined(__linux__)
#include <linux/futex.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NNB_PAUSE() _mm_pause()
#else
#define NNB_PAUSE() std::this_thread::yield()
#endif

namespace nnb {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kClosed = 0xFFFFFFFFu;  // next item of a closed ticket

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// ---- sleeping ---------------------------------------------------------------------------------
void futex_wait(std::atomic<uint32_t>* a, uint32_t expected) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  a->wait(expected);
#endif
}

void futex_wake(std::atomic<uint32_t>* a, int n) {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
#else
  (void)n;
  a->notify_all();
#endif
}

void futex_wake_all(std::atomic<uint32_t>* a) { futex_wake(a, INT_MAX); }

// ---- spinning policy ------------------------------------------------------------------------
// How long a thread polls before it sleeps: long enough to cover the serial work between two
// parallel regions of a forward pass, short enough that an idle context soon stops using CPU.
constexpr int64_t kSpinNs = 200'000;
// After contention is seen (see ThreadProbe), nobody spins for this long.
constexpr int64_t kBackoffNs = 20'000'000;
// A thread judges contention over windows of at least this much awake time.
constexpr int64_t kProbeNs = 2'000'000;

// CPUs this process may run on (its affinity mask: a container's cpuset), else the machine's.
int n_cores() {
  static const int n = [] {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : int(h);
  }();
  return n;
}

// Counters for NNB_POOL_STATS=1 (printed when a pool is destroyed); not touched otherwise,
// so pools of different contexts share no cache line per job.
const bool g_stats = [] {
  const char* e = std::getenv("NNB_POOL_STATS");
  return e && *e == '1';
}();
std::atomic<long> st_jobs{0}, st_worker_sleeps{0}, st_caller_sleeps{0}, st_backoffs{0};
inline void count(std::atomic<long>& c) {
  if (g_stats) c.fetch_add(1, std::memory_order_relaxed);
}

// Threads of every pool in this process that are running a job or spinning for one.
std::atomic<int> g_busy{0};
// Until this time (ns, steady clock) nobody spins: a thread of ours was preempted recently.
std::atomic<int64_t> g_no_spin_until{0};

// Contention probe. A thread measures how long it waited on a run queue (runnable, but the
// core ran something else: /proc/thread-self/schedstat, second field) while it was awake,
// i.e. working or spinning, leaving out the latency of its own wake-ups from the futex. If
// that is more than kContendedShare of its awake time (over at least kProbeNs), the cores are
// oversubscribed (other processes, other pools), and spinning would take CPU from threads
// that need it: nobody spins for kBackoffNs. (Involuntary context-switch counts are no use
// here: kernel housekeeping preempts even an idle machine's threads hundreds of times a
// second, for microseconds each.)
constexpr double kContendedShare = 0.25;

struct ThreadProbe {
  int fd = -2;  // -2: not opened yet, -1: unavailable
  int64_t seg_time = -1, seg_delay = 0;  // start of the current awake segment
  int64_t awake_time = 0, awake_delay = 0;  // accumulated since the last decision

  ~ThreadProbe() {
#if defined(__linux__)
    if (fd >= 0) close(fd);
#endif
  }
  // Run-queue delay of the calling thread in ns, or -1.
  int64_t run_delay() {
#if defined(__linux__)
    if (fd == -2) fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[96];
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char* q = std::strchr(buf, ' ');
    return q ? std::strtoll(q + 1, nullptr, 10) : -1;
#else
    return -1;
#endif
  }
  void close_segment(int64_t now) {
    const int64_t d = run_delay();
    if (d < 0) return;
    if (seg_time >= 0) {
      awake_time += now - seg_time;
      awake_delay += d - seg_delay;
    }
    seg_time = -1;
  }
  void open_segment(int64_t now) {
    const int64_t d = run_delay();
    if (d < 0) return;
    seg_time = now;
    seg_delay = d;
  }
  // About to sleep on a futex / just woken up.
  void before_sleep() { close_segment(now_ns()); }
  void after_wake() { open_segment(now_ns()); }
  // After a job: decides once enough awake time has accumulated.
  void after_job(int64_t now) {
    if (seg_time < 0) {
      open_segment(now);
      return;
    }
    if (awake_time + (now - seg_time) < kProbeNs) return;
    close_segment(now);
    if (double(awake_delay) > kContendedShare * double(awake_time)) {
      g_no_spin_until.store(now + kBackoffNs, std::memory_order_relaxed);
      count(st_backoffs);
      if (g_stats)
        std::fprintf(stderr, "pool: contention, %ld us on a run queue in %ld us awake\n", long(awake_delay / 1000),
                     long(awake_time / 1000));
    }
    awake_time = awake_delay = 0;
    open_segment(now);
  }
};
thread_local ThreadProbe t_probe;

void probe_contention(int64_t now) { t_probe.after_job(now); }

// Was contention seen recently (threads of ours waited on run queues)?
bool contended(int64_t now) { return now < g_no_spin_until.load(std::memory_order_relaxed); }

// May the calling thread (already counted in g_busy) spin now?
bool may_spin(int64_t now) {
  if (now < g_no_spin_until.load(std::memory_order_relaxed)) return false;
  return g_busy.load(std::memory_order_relaxed) <= n_cores();
}

// Polls `ready` for up to kSpinNs while spinning is allowed; true when it became ready.
template <class Ready>
bool spin_until(Ready ready) {
  int64_t start = now_ns();
  if (!may_spin(start)) return ready();
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (ready()) return true;
      NNB_PAUSE();
    }
    const int64_t t = now_ns();
    if (t - start > kSpinNs || !may_spin(t)) return ready();
  }
}

}  // namespace

int ThreadPool::default_threads() { return n_cores(); }

bool ThreadPool::spinning_allowed() const { return may_spin(now_ns()); }

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : default_threads()) {
  // More threads than cores would only take turns on them (and a thread descheduled while it
  // holds a chunk holds up the whole job): at most one thread per core works, whatever was
  // asked for; size() still reports the request.
  const int active = std::min(n_threads_, n_cores());
  try {
    for (int i = 1; i < active; ++i) workers_.emplace_back([this, i] { worker(i); });
  } catch (...) {
    // No destructor runs for a half-built pool: stop and join the workers already started.
    stop_.store(true, std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(&gen_);
    for (auto& t : workers_) t.join();
    throw;
  }
}

ThreadPool::~ThreadPool() {
  if (g_stats)
    std::fprintf(stderr, "pool: %ld jobs, %ld worker sleeps, %ld caller sleeps, %ld contention backoffs\n", st_jobs.load(),
                 st_worker_sleeps.load(), st_caller_sleeps.load(), st_backoffs.load());
  stop_.store(true, std::memory_order_relaxed);
  gen_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(&gen_);
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks(uint32_t g, int thread_index) {
  uint32_t mine = 0, n_items = 0;  // items this thread finished; the job's item count
  for (;;) {
    uint64_t t = ticket_.load(std::memory_order_acquire);
    if (uint32_t(t >> 32) != g) break;  // that job is over (a newer one is the outer loop's)
    const uint32_t next = uint32_t(t);
    const uint32_t n = n_.load(std::memory_order_acquire);
    if (next >= n) break;  // all claimed, or the job closed (next = kClosed)
    // Job fields as of generation g. If any of them is already the next job's, the caller
    // closed the ticket before writing it (release / acquire), so the claim below fails.
    void* obj = obj_.load(std::memory_order_acquire);
    const Thunk thunk = thunk_.load(std::memory_order_acquire);
    const uint32_t size = chunk_size(n - next, min_chunk_.load(std::memory_order_acquire),
                                     grain_.load(std::memory_order_acquire), share_.load(std::memory_order_acquire));
    if (!ticket_.compare_exchange_weak(t, t + size, std::memory_order_acq_rel, std::memory_order_relaxed)) continue;
    thunk(obj, next, next + size, thread_index);
    mine += size;
    n_items = n;
  }
  // One update of the shared count per thread and job, not per chunk (the job cannot end
  // before it: its items are in `mine`).
  if (mine > 0 && done_.fetch_add(mine, std::memory_order_seq_cst) + mine == n_items &&
      caller_sleeping_.load(std::memory_order_seq_cst))
    futex_wake_all(&done_);
}

uint32_t ThreadPool::chunk_size(uint32_t left, uint32_t min_chunk, uint32_t grain, uint32_t share) {
  const uint32_t want = std::max(min_chunk, (left + share - 1) / share);
  return std::min(left, (want + grain - 1) / grain * grain);
}

void ThreadPool::worker(int index) {
  uint32_t seen = 0;
  g_busy.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    // Wait for a new generation: spin first, then sleep on the futex.
    if (!spin_until([&] { return gen_.load(std::memory_order_acquire) != seen; })) {
      g_busy.fetch_sub(1, std::memory_order_relaxed);
      count(st_worker_sleeps);
      t_probe.before_sleep();
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      while (gen_.load(std::memory_order_seq_cst) == seen) futex_wait(&gen_, seen);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      t_probe.after_wake();
      g_busy.fetch_add(1, std::memory_order_relaxed);
    }
    seen = gen_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) break;
    run_chunks(seen, index);
    probe_contention(now_ns());
  }
  g_busy.fetch_sub(1, std::memory_order_relaxed);
}

void ThreadPool::dispatch(int64_t n, int64_t grain, void* obj, Thunk thunk) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_chunks = (n + grain - 1) / grain;
  if (workers_.empty() || max_chunks == 1) {
    thunk(obj, 0, n, 0);
    return;
  }
  if (n >= int64_t(kClosed)) throw std::length_error("ThreadPool::parallel_for: more than 2^32 - 2 items");
  // Chunks are claimed dynamically, so threads finish together even when one runs slower, and
  // guided: each claim takes 1/(2T) of what is left (T threads), down to a floor of 1/(8T) of
  // the job, so the first chunks are long (each claim costs two contended cache lines, and long
  // contiguous runs stream better) and the last ones short, which is what decides how long the
  // others wait at the end. Equal chunks, two per thread, left the waiting thread up to a
  // quarter of a region idle at two threads (pool waits 11 % of a 2-thread token, measured).
  // Under contention the floor is 1/(16T): a late or descheduled thread must leave most of
  // the work to the others.
  const uint32_t T = uint32_t(workers_.size() + 1);
  const uint32_t floor_div = T * (contended(now_ns()) ? 16 : 8);
  const uint32_t un = uint32_t(n);
  const uint32_t min_chunk = std::max<uint32_t>(uint32_t(grain), (un + floor_div - 1) / floor_div);
  g_busy.fetch_add(1, std::memory_order_relaxed);
  count(st_jobs);
  // Close the previous job's ticket before touching the job fields: a late worker that read
  // its (exhausted) ticket and then sees a field of this job must not be able to claim.
  const uint32_t g_old = gen_.load(std::memory_order_relaxed);
  ticket_.store((uint64_t(g_old) << 32) | kClosed, std::memory_order_relaxed);
  obj_.store(obj, std::memory_order_release);
  thunk_.store(thunk, std::memory_order_release);
  n_.store(un, std::memory_order_release);
  min_chunk_.store(min_chunk, std::memory_order_release);
  grain_.store(uint32_t(grain), std::memory_order_release);
  share_.store(2 * T, std::memory_order_release);
  done_.store(0, std::memory_order_relaxed);
  const uint32_t g = g_old + 1;
  ticket_.store(uint64_t(g) << 32, std::memory_order_release);
  gen_.store(g, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(&gen_);

  run_chunks(g, 0);

  // Wait for the chunks other threads still run.
  if (!spin_until([&] { return done_.load(std::memory_order_acquire) == un; })) {
    g_busy.fetch_sub(1, std::memory_order_relaxed);
    count(st_caller_sleeps);
    t_probe.before_sleep();
    caller_sleeping_.store(1, std::memory_order_seq_cst);
    for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != un;) futex_wait(&done_, d);
    caller_sleeping_.store(0, std::memory_order_relaxed);
    t_probe.after_wake();
    g_busy.fetch_add(1, std::memory_order_relaxed);
  }
  g_busy.fetch_sub(1, std::memory_order_relaxed);
  probe_contention(now_ns());
}

}  // namespace nnb
