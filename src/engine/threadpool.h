// A fixed pool of worker threads for data-parallel loops (matrix products, attention heads).
// Workers are created once and park on a condition variable between jobs after a short spin,
// so a per-token sequence of ~100 parallel loops costs little, and an oversubscribed machine
// (more threads than cores, several contexts at once) degrades smoothly instead of spinning.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nnb {

class ThreadPool {
 public:
  // n_threads <= 0: one per hardware core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) over [0, n) split into contiguous chunks of at least
  // `grain` items, the calling thread taking part. Returns when all chunks are done.
  // Not reentrant: one parallel_for at a time per pool (a context owns its pool).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  static int default_threads();

 private:
  void worker(int index);
  void run_chunks(int thread_index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;  // bumped per job; workers wait for a new one
  bool stop_ = false;
  // Current job.
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0, chunk_ = 0, n_chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
  std::atomic<int> active_{0};
};

}  // namespace nnb
