// The compiled core's threads: the block steps' row loops (gradient X_S^T R_S, residual
// update R_S -= X_S delta; a step lasts tens of microseconds and a solve makes thousands),
// the masked gradients and products over all groups, and the block Grams.
//
// OpenMP regions did not pay: with threads that sleep between regions
// (OMP_WAIT_POLICY=PASSIVE, see fixntk/__init__.py) each region waits for a wake-up, and
// two threads solved S2 no faster than one; with spinning threads, a region's closing
// barrier waits for every thread of the team, so when another process holds a core, each
// step waits for a descheduled thread's next time slice (a fit 2x slower than on one
// thread).
//
// Here the calling thread never waits for a helper that has not started: a job is cut
// into chunks, every thread claims chunks one at a time, and the caller, once no chunk
// is left to claim, waits only for the chunks claimed by others (running, so short,
// unless another process took the helper's core: see the back-off in run). A helper that
// wakes late finds nothing to claim. Helpers spin for 50 us after a job (the next block
// step usually follows within microseconds), then sleep until woken.
//
// Results do not depend on which thread runs a chunk: callers fix the chunks by the job's
// size alone, and each chunk writes its own output.
//
// No OpenMP thread pool is started (OpenMP only reports the thread count asked for,
// OMP_NUM_THREADS or threadpoolctl), so the core also runs in a child after fork, where
// libgomp's pool would hang.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <sched.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define FIXNTK_PAUSE() _mm_pause()
#else
#define FIXNTK_PAUSE() std::this_thread::yield()
#endif

namespace fixntk {

class RowTeam {
 public:
  // The process's team (a child after fork gets a new one: threads do not survive it).
  // Never destroyed: its helpers are detached and may still be asleep at exit.
  static RowTeam& instance() {
    static std::mutex guard;
    static RowTeam* team = nullptr;
    std::lock_guard<std::mutex> lock(guard);
    if (team == nullptr || team->pid_ != getpid()) team = new RowTeam();
    return *team;
  }

  // body(k, w) for every k in [0, n_chunks), on the calling thread (w = 0) and up to
  // `helpers` helper threads (w = 1 .. helpers; per-thread scratch space can be indexed
  // by w). Runs on the caller alone when another caller holds the team (two solves in two
  // Python threads, or a body that starts a job), which gives the same results.
  void run(int n_chunks, int helpers, const std::function<void(int, int)>& body) {
    bool idle = false;
    if (helpers <= 0 || n_chunks <= 1 || !busy_.compare_exchange_strong(idle, true)) {
      for (int k = 0; k < n_chunks; ++k) body(k, 0);
      return;
    }
    struct Release {
      std::atomic<bool>& busy;
      ~Release() { busy.store(false, std::memory_order_release); }
    } release{busy_};
    const auto start = Clock::now();
    if (start < solo_until_) {  // backing off: see below
      for (int k = 0; k < n_chunks; ++k) body(k, 0);
      return;
    }
    grow(helpers);
    body_ = &body;
    n_chunks_.store(n_chunks, std::memory_order_relaxed);
    helpers_.store(helpers, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const std::uint64_t job = ++job_count_;
    next_.store(job << 32, std::memory_order_seq_cst);
    published_.store(job, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(sleep_);
      wake_.notify_all();
    }
    int mine = 0;
    for (int k; (k = claim(job)) >= 0;) {
      body(k, 0);
      ++mine;
    }
    // The chunks the helpers claimed are running now: wait for them only.
    done_.fetch_add(mine, std::memory_order_acq_rel);
    const auto mine_done = Clock::now();
    for (long spins = 0; done_.load(std::memory_order_acquire) < n_chunks; ++spins) {
      if (spins < kSpinsBeforeYield)
        FIXNTK_PAUSE();
      else
        std::this_thread::yield();
    }
    // A helper descheduled in the middle of a chunk (another process holds its core)
    // makes the caller wait for its next time slice, milliseconds where a chunk takes
    // microseconds. After such a wait (longer than four of the caller's own chunks and
    // 50 us) the caller works alone for a while, 1 ms doubling up to 100 ms while the
    // slow waits go on; a normal wait halves it. The results are the same either way.
    const auto end = Clock::now();
    const auto own = (mine_done - start) / std::max(mine, 1);
    if (end - mine_done > 4 * own + std::chrono::microseconds(50)) {
      backoff_ = std::min(2 * backoff_, kMaxBackoff);
      solo_until_ = end + backoff_;
    } else {
      backoff_ = std::max(backoff_ / 2, kMinBackoff);
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr long kSpinsBeforeYield = 1 << 14;
  static constexpr Clock::duration kMinBackoff = std::chrono::microseconds(500);
  static constexpr Clock::duration kMaxBackoff = std::chrono::milliseconds(100);
  // How long a helper spins for the next job before it sleeps.
  static constexpr std::chrono::microseconds kSpin{50};

  RowTeam() : pid_(getpid()) {}

  // The next chunk of `job`, or -1 when none is left (or the job is over).
  int claim(std::uint64_t job) {
    std::uint64_t v = next_.load(std::memory_order_acquire);
    while ((v >> 32) == job &&
           static_cast<int>(v & 0xffffffffu) < n_chunks_.load(std::memory_order_relaxed)) {
      if (next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel))
        return static_cast<int>(v & 0xffffffffu);
    }
    return -1;
  }

  void grow(int helpers) {
    while (static_cast<int>(n_threads_) < helpers) {
      const int index = static_cast<int>(++n_threads_);  // 1, 2, ...
      std::thread([this, index] { helper(index); }).detach();
    }
  }

  void helper(int index) {
    std::uint64_t seen = published_.load(std::memory_order_acquire);
    for (;;) {
      std::uint64_t job = wait_for_job(seen);
      seen = job;
      // A team grown for more threads than this job asks for: the others stay out.
      if (index > helpers_.load(std::memory_order_relaxed)) continue;
      int mine = 0;
      for (int k; (k = claim(job)) >= 0;) {
        // A claimed chunk belongs to the job still running, so body_ is that job's.
        (*body_)(k, index);
        ++mine;
      }
      if (mine > 0) done_.fetch_add(mine, std::memory_order_acq_rel);
    }
  }

  std::uint64_t wait_for_job(std::uint64_t seen) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 1;; ++i) {
      std::uint64_t job = published_.load(std::memory_order_acquire);
      if (job != seen) return job;
      FIXNTK_PAUSE();
      if ((i & 255) == 0 && std::chrono::steady_clock::now() - start > kSpin) break;
    }
    std::unique_lock<std::mutex> lock(sleep_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::uint64_t job;
    while ((job = published_.load(std::memory_order_seq_cst)) == seen) wake_.wait(lock);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    return job;
  }

  const pid_t pid_;
  std::atomic<bool> busy_{false};        // a caller of run holds the team
  std::uint64_t job_count_ = 0;          // jobs started (by the holder only)
  Clock::time_point solo_until_{};       // no helpers before then (holder only)
  Clock::duration backoff_ = kMinBackoff;  // the next solo period (holder only)
  unsigned n_threads_ = 0;               // helpers started (by the holder only)
  std::atomic<std::uint64_t> published_{0};  // the current job's number
  std::atomic<std::uint64_t> next_{0};   // job << 32 | next chunk to claim
  std::atomic<int> done_{0};             // chunks of the current job finished
  std::atomic<int> n_chunks_{0};         // the current job's chunks
  std::atomic<int> helpers_{0};          // helpers that may take part in it
  const std::function<void(int, int)>* body_ = nullptr;
  std::mutex sleep_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

// Helper threads for a job of n_chunks chunks: the thread count asked for through OpenMP
// (OMP_NUM_THREADS, threadpoolctl) less the caller, no more than the CPUs this process
// may run on, nor than the chunks less one.
inline int team_helpers(int n_chunks) {
  if (n_chunks <= 1) return 0;
#ifdef _OPENMP
  static const int cpus = [] {
    cpu_set_t set;
    return sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  }();
  return std::max(0, std::min({omp_get_max_threads(), cpus, n_chunks}) - 1);
#else
  return 0;
#endif
}

}  // namespace fixntk
