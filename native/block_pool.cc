#include "block_pool.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace fastlayer {
namespace {

// One RunUnits call. Lives on the caller's stack; the caller leaves only when no helper is inside.
struct Batch {
  const std::function<void(size_t, size_t)>* work;
  size_t n;
  size_t wanted;  // helpers still welcome
  size_t next = 0;
  size_t slots = 1;
  size_t inside = 0;  // helpers working on it
  std::exception_ptr error;
  std::condition_variable left;
};

// Units take milliseconds, so one mutex for everything costs nothing measurable and keeps the
// protocol simple enough to check by reading (and under ThreadSanitizer).
class Pool {
 public:
  // Takes indices of `b` until none are left or one failed. Called with the lock held.
  void Work(Batch* b, size_t slot, std::unique_lock<std::mutex>& lock) {
    while (b->next < b->n && !b->error) {
      const size_t index = b->next++;
      lock.unlock();
      std::exception_ptr error;
      try {
        (*b->work)(index, slot);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error && !b->error) b->error = error;
    }
    Unqueue(b);
  }

  void Run(size_t n, size_t helpers, const std::function<void(size_t, size_t)>& work,
           const std::function<void()>& caller_first) {
    Batch b;
    b.work = &work;
    b.n = n;
    b.wanted = std::min(helpers, n > 0 ? n - 1 : 0);
    std::unique_lock<std::mutex> lock(mutex_);
    if (b.wanted > 0 && !stopping_) {
      Grow(std::min(b.wanted, kMaxHelpers));
      if (!threads_.empty()) {
        queue_.push_back(&b);
        if (b.wanted == 1) wake_.notify_one();
        else wake_.notify_all();
      }
    }
    lock.unlock();
    caller_first();
    lock.lock();
    Work(&b, 0, lock);
    b.left.wait(lock, [&b] { return b.inside == 0; });
    if (b.error) std::rethrow_exception(b.error);
  }

  size_t Threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_.size();
  }

  // Stops and joins the helpers (at exit, so that their thread-local compressors are freed). Calls
  // still running then finish on their own threads; later ones get no helpers.
  void Stop() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      threads.swap(threads_);
    }
    wake_.notify_all();
    for (std::thread& t : threads) t.join();
  }

 private:
  void Unqueue(Batch* b) {
    const auto it = std::find(queue_.begin(), queue_.end(), b);
    if (it != queue_.end()) queue_.erase(it);
  }

  // Starts threads up to `count`; a failure to start one leaves fewer (the caller works anyway).
  void Grow(size_t count) {
    while (threads_.size() < count) {
      try {
        threads_.emplace_back([this] { Loop(); });
      } catch (const std::system_error&) {
        return;
      }
    }
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Batch* b = queue_.front();
      const size_t slot = b->slots++;
      if (--b->wanted == 0) queue_.pop_front();
      ++b->inside;
      Work(b, slot, lock);
      if (--b->inside == 0) b->left.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Batch*> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

// Never freed: a call still running during exit may use it after Stop().
Pool& ThePool() {
  static Pool* pool = new Pool();
  return *pool;
}

// Joins the helpers when the process exits normally.
struct StopAtExit {
  ~StopAtExit() { ThePool().Stop(); }
} stop_at_exit;

}  // namespace

void RunUnits(size_t n, size_t helpers, const std::function<void(size_t, size_t)>& work,
              const std::function<void()>& caller_first) {
  ThePool().Run(n, helpers, work, caller_first);
}

size_t PoolThreads() { return ThePool().Threads(); }

}  // namespace fastlayer
