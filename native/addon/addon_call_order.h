// The order in which one pipeline's calls run the core. A pipeline on one thread idles while each
// readFile() result goes to JavaScript and the next call comes back (about 5% of a level 1 layer,
// docs/PERFORMANCE.md), so one more readFile() may be queued behind the one in flight: it waits here
// on its own libuv thread and starts the moment the first is done. Calls run strictly in the order
// they were made, whichever libuv threads pick them up; every call takes a ticket, so the order holds
// for all of them, not only for reads.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

// Not std::condition_variable: its wait() binds to GLIBCXX_3.4.30 with GCC 12 (cond_var.h).
#include "cond_var.h"

namespace fastlayer {
namespace addon {

class CallOrder {
 public:
  // What the calls before a ticket left behind, for the call holding it.
  struct Turn {
    bool failed;      // one of them failed: the core is in an unknown state
    bool cancelled;   // the pipeline was destroyed: nobody wants the result
    bool read_short;  // the last one was a readFile() that reached the end of its file
  };

  CallOrder() { abandoned_.reserve(4); }

  // Main thread, when a call is queued. Tickets are taken in the order the calls are made.
  uint64_t Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_ticket_++;
  }

  // Worker thread: blocks until every call with an earlier ticket is Done(). Never waits on the
  // main thread: the calls before it are already queued or running, in libuv's FIFO order.
  Turn Wait(uint64_t ticket) {
    std::unique_lock<std::mutex> lock(mutex_);
    turn_.wait(lock, [&] { return serving_ == ticket; });
    return Turn{failed_, cancelled_, read_short_};
  }

  // Worker thread, exactly once per ticket, after Wait(): lets the next call run.
  void Done(bool failed, bool read_short) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failed) failed_ = true;
      read_short_ = read_short;
      Advance();
    }
    turn_.notify_all();
  }

  // Main thread: a ticket whose call will never run (not queued, or cancelled by libuv before it
  // started) must not hold up the calls after it. The core was not touched, so nothing is recorded.
  void Abandon(uint64_t ticket) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ticket != serving_) {
        abandoned_.push_back(ticket);
        return;
      }
      Advance();
    }
    turn_.notify_all();
  }

  // Main thread (destroy()): calls still waiting skip their work.
  void Cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
  }

 private:
  // Under the lock: the next ticket is served, skipping the abandoned ones.
  void Advance() {
    ++serving_;
    for (bool skipped = true; skipped;) {
      skipped = false;
      for (auto it = abandoned_.begin(); it != abandoned_.end(); ++it) {
        if (*it == serving_) {
          abandoned_.erase(it);
          ++serving_;
          skipped = true;
          break;
        }
      }
    }
  }

  std::mutex mutex_;
  CondVar turn_;
  uint64_t next_ticket_ = 0;
  uint64_t serving_ = 0;
  bool failed_ = false;
  bool cancelled_ = false;
  bool read_short_ = false;
  // Tickets after the one served whose calls will never run (a few at most: calls in flight are 2).
  std::vector<uint64_t> abandoned_;
};

}  // namespace addon
}  // namespace fastlayer
