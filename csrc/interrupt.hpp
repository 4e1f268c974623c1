// Interrupts (Ctrl-C, a Python signal handler) inside long compiled loops, the RowTeam's
// jobs included. `check` (from the bindings: PyErr_CheckSignals under the GIL) may only
// run on the thread that called into the core, the one that made this object: that thread
// asks it at most every 0.1 s and raises a flag that every thread reads, skips the work
// left, and the caller, after the job, stops.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <utility>

#include <thread>

namespace fixntk {

class Interrupt {
 public:
  explicit Interrupt(std::function<bool()> check = nullptr)
      : check_(std::move(check)),
        owner_(std::this_thread::get_id()),
        last_(std::chrono::steady_clock::now()) {}

  // True once an interrupt was seen (then for good). Cheap: an atomic load, and on the
  // calling thread a clock read; `check` itself runs at most every 0.1 s.
  bool operator()() {
    if (flag_.load(std::memory_order_relaxed)) return true;
    if (!check_) return false;
    if (std::this_thread::get_id() != owner_) return false;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return false;
    last_ = now;
    if (check_()) flag_.store(true, std::memory_order_relaxed);
    return flag_.load(std::memory_order_relaxed);
  }

  bool raised() const { return flag_.load(std::memory_order_relaxed); }

 private:
  std::function<bool()> check_;
  std::thread::id owner_;
  std::chrono::steady_clock::time_point last_;
  std::atomic<bool> flag_{false};
};

}  // namespace fixntk
