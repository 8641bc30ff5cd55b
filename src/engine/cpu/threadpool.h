// A fixed pool of worker threads for data-parallel loops (matrix products, attention heads).
//
// Dispatch is built for ~60-100 short parallel regions per generated token:
//  - no allocation per call (the callable is passed by reference through a plain thunk);
//  - chunks are claimed dynamically (long ones first, short ones last: guided) and the caller
//    waits for the chunks, never for a worker to show up, so threads finish together and a
//    descheduled worker delays nothing;
//  - between jobs, workers spin briefly on an atomic generation counter and then sleep on a
//    futex, so a region costs about a cache-line transfer when the machine has cores to spare;
//  - spinning is switched off when it would burn CPU that another thread needs: when the
//    threads spinning or working in this process (every pool together) would exceed the cores,
//    and for a while after a thread found itself waiting on a run queue for a noticeable share
//    of its time (another process wants the core). Then waits sleep at once and an
//    oversubscribed machine degrades smoothly instead of thrashing;
//  - a pool never runs more threads than there are cores.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace nnb {

class ThreadPool {
 public:
  // n_threads <= 0: one per core (of the process's CPU affinity mask). At most one thread per
  // core runs jobs even when more are asked for (size() reports the request; thread indices
  // passed to the loop bodies stay below it).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) over [0, n) split into contiguous chunks of at least
  // `grain` items (claimed dynamically, so threads that run faster take more; long chunks
  // first, shorter ones towards the end), the calling thread taking part. Returns when all
  // chunks are done. n < 2^32 - 1.
  // Not reentrant: one parallel call at a time per pool (a context owns its pool).
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    using Fn = std::remove_reference_t<F>;
    dispatch(n, grain, const_cast<void*>(static_cast<const void*>(&fn)), [](void* o, int64_t b, int64_t e, int t) {
      (*static_cast<Fn*>(o))(b, e, t);
    });
  }

  static int default_threads();

  // Spinning policy in effect (for tests and diagnostics).
  bool spinning_allowed() const;

 private:
  using Thunk = void (*)(void* obj, int64_t b, int64_t e, int tid);
  void dispatch(int64_t n, int64_t grain, void* obj, Thunk thunk);
  void worker(int index);
  // Claims and runs chunks of job generation g until none is left (or the job is gone).
  void run_chunks(uint32_t g, int thread_index);
  // The next chunk when `left` items are unclaimed: 1/share of them, at least min_chunk, a
  // multiple of grain (or all that is left).
  static uint32_t chunk_size(uint32_t left, uint32_t min_chunk, uint32_t grain, uint32_t share);

  int n_threads_;
  std::vector<std::thread> workers_;

  // Current job. Written by the caller before it publishes the generation; atomics (relaxed)
  // because a worker that wakes late may read them while the next job is being written: it
  // then fails to claim a chunk (the ticket names the generation) and discards what it read.
  std::atomic<void*> obj_{nullptr};
  std::atomic<Thunk> thunk_{nullptr};
  std::atomic<uint32_t> n_{0}, min_chunk_{1}, grain_{1}, share_{1};

  // Chunk claims: generation << 32 | next item. The caller waits for chunks to be done, not
  // for workers to check in, so a worker that is descheduled when a job starts costs nothing:
  // the running threads take its chunks.
  alignas(64) std::atomic<uint64_t> ticket_{0};
  alignas(64) std::atomic<uint32_t> gen_{0};  // futex word for sleeping workers
  std::atomic<int> sleepers_{0};              // workers in (or entering) the futex wait
  std::atomic<bool> stop_{false};
  alignas(64) std::atomic<uint32_t> done_{0};  // items finished (futex word for the caller)
  std::atomic<int> caller_sleeping_{0};
};

}  // namespace nnb
