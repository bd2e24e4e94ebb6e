#include "block_pool.h"

#include "cond_var.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

namespace fastlayer {
namespace {

// One RunUnits call. Lives on the caller's stack; the caller leaves only when no helper is inside.
struct Batch {
  const std::function<void(size_t, size_t)>* work;
  size_t n;
  size_t wanted;  // helpers still welcome
  size_t next = 0;
  size_t inside = 0;  // helpers working on it
  std::exception_ptr error;
  CondVar left;
  Batch* queued_next = nullptr;  // the pool's queue of calls wanting helpers
  bool queued = false;
};

}  // namespace

// A BackgroundTask's shared part: referenced by its owner and, while queued or running, by the pool.
struct BackgroundTask::State {
  std::function<void(size_t)> work;
  std::shared_ptr<TaskGroup> group;
  enum class Phase { kQueued, kRunning, kDone } phase = Phase::kQueued;
  std::exception_ptr error;
  CondVar finished;
  State* next = nullptr;  // the pool's list of queued tasks
  int refs = 0;
};

namespace {

using TaskState = BackgroundTask::State;

// Runs a task's work and drops it (and what it holds) at once, off the lock: it may free a frame.
std::exception_ptr RunWork(TaskState* t, size_t thread) {
  std::exception_ptr error;
  try {
    t->work(thread);
  } catch (...) {
    error = std::current_exception();
  }
  t->work = nullptr;
  return error;
}

// Units take milliseconds, so one mutex for everything costs nothing measurable and keeps the
// protocol simple enough to check by reading (and under ThreadSanitizer).
class Pool {
 public:
  // Takes indices of `b` until none are left or one failed. Called with the lock held.
  void Work(Batch* b, size_t thread, std::unique_lock<std::mutex>& lock) {
    while (b->next < b->n && !b->error) {
      const size_t index = b->next++;
      lock.unlock();
      std::exception_ptr error;
      try {
        (*b->work)(index, thread);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (thread != 0) ++helper_units_;
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
      if (count_ > 0) {
        Enqueue(&b);
        if (b.wanted == 1) wake_.notify_one();
        else wake_.notify_all();
      }
    }
    lock.unlock();
    // The batch is queued: whatever happens, this frame waits for its helpers before it unwinds.
    std::exception_ptr first_error;
    try {
      caller_first();
    } catch (...) {
      first_error = std::current_exception();
    }
    lock.lock();
    if (first_error && !b.error) b.error = first_error;
    Work(&b, 0, lock);
    b.left.wait(lock, [&b] { return b.inside == 0; });
    if (b.error) std::rethrow_exception(b.error);
  }

  void StartTask(TaskState* t, size_t helpers) {
    std::lock_guard<std::mutex> lock(mutex_);
    t->refs = 2;  // the owner's and the queue's
    TaskState** tail = &tasks_;
    while (*tail != nullptr) tail = &(*tail)->next;
    *tail = t;
    if (!stopping_) Grow(std::min(helpers, kMaxHelpers));
    if (count_ > 0) wake_.notify_one();
  }

  bool TaskDone(TaskState* t) {
    std::lock_guard<std::mutex> lock(mutex_);
    return t->phase == TaskState::Phase::kDone;
  }

  void JoinTask(TaskState* t) {
    std::unique_lock<std::mutex> lock(mutex_);
    // No pool thread took it: the owner runs it rather than wait for one.
    if (t->phase == TaskState::Phase::kQueued) RunQueuedHere(t, lock);
    t->finished.wait(lock, [t] { return t->phase == TaskState::Phase::kDone; });
    std::exception_ptr error = t->error;
    lock.unlock();
    if (error) std::rethrow_exception(error);
  }

  bool RunTaskHere(TaskState* t) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (t->phase != TaskState::Phase::kQueued) return false;
    RunQueuedHere(t, lock);
    return true;
  }

  // Takes a queued task off the queue and runs it on the calling thread, `lock` (on mutex_) released
  // while it runs and held again when it returns.
  void RunQueuedHere(TaskState* t, std::unique_lock<std::mutex>& lock) {
    Unlink(t);
    --t->refs;
    t->phase = TaskState::Phase::kRunning;
    lock.unlock();
    std::exception_ptr error = RunWork(t, 0);
    lock.lock();
    t->error = error;
    t->phase = TaskState::Phase::kDone;
  }

  void AbandonTask(TaskState* t) {
    std::function<void(size_t)> dropped;
    std::lock_guard<std::mutex> lock(mutex_);
    if (t->phase != TaskState::Phase::kQueued) return;  // running: it ends on its own
    Unlink(t);
    --t->refs;
    t->phase = TaskState::Phase::kDone;
    dropped.swap(t->work);  // freed after the lock is released (declared before the guard)
  }

  // Drops the owner's reference; the last one frees the task.
  void ReleaseTask(TaskState* t) {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last = --t->refs == 0;
    }
    if (last) delete t;
  }

  PoolStats Stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return PoolStats{count_, helper_units_};
  }

  // Stops and joins the helpers at exit, so that no thread of ours outlives the process's own
  // teardown. Calls still running then finish on their own threads; later ones get no helpers.
  void Stop() {
    size_t count;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      count = count_;
    }
    wake_.notify_all();
    // Grow() starts no thread once stopping_ is set, so threads_[0..count) is ours alone now.
    for (size_t i = 0; i < count; ++i) threads_[i].join();
  }

 private:
  // A fixed array and an intrusive list: no standard container here, whose growth paths would raise
  // the libstdc++ version the prebuilt addon needs.
  void Enqueue(Batch* b) {
    Batch** tail = &queue_;
    while (*tail != nullptr) tail = &(*tail)->queued_next;
    *tail = b;
    b->queued = true;
  }

  void Unqueue(Batch* b) {
    if (!b->queued) return;
    for (Batch** link = &queue_; *link != nullptr; link = &(*link)->queued_next) {
      if (*link == b) {
        *link = b->queued_next;
        break;
      }
    }
    b->queued_next = nullptr;
    b->queued = false;
  }

  void Unlink(TaskState* t) {
    for (TaskState** link = &tasks_; *link != nullptr; link = &(*link)->next) {
      if (*link == t) {
        *link = t->next;
        break;
      }
    }
    t->next = nullptr;
  }

  // The first queued task whose group has room for one more on a pool thread. Called with the lock
  // held. The queue holds at most a few tasks per layer in flight, so a scan is cheap.
  TaskState* Runnable() const {
    for (TaskState* t = tasks_; t != nullptr; t = t->next) {
      if (t->group == nullptr || t->group->running < t->group->limit) return t;
    }
    return nullptr;
  }

  // Runs task t (Runnable()) on pool thread `number`. Called with the lock held, returns with it held.
  // A task that ends makes room in its group: this thread looks for the next one itself.
  void RunTask(TaskState* t, size_t number, std::unique_lock<std::mutex>& lock) {
    Unlink(t);
    t->phase = TaskState::Phase::kRunning;
    if (t->group != nullptr) ++t->group->running;
    lock.unlock();
    std::exception_ptr error = RunWork(t, number);
    lock.lock();
    if (t->group != nullptr) --t->group->running;
    ++helper_units_;
    t->error = error;
    t->phase = TaskState::Phase::kDone;
    t->finished.notify_all();
    if (--t->refs == 0) {
      lock.unlock();
      delete t;
      lock.lock();
    }
  }

  // Starts threads up to `count`; a failure to start one leaves fewer (the caller works anyway).
  void Grow(size_t count) {
    while (count_ < count) {
      try {
        const size_t number = count_ + 1;
        threads_[count_] = std::thread([this, number] { Loop(number); });
      } catch (const std::exception&) {  // system_error, or bad_alloc for the thread's state
        return;
      }
      ++count_;
    }
  }

  void Loop(size_t number) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || queue_ != nullptr || Runnable() != nullptr; });
      if (stopping_) return;
      // A RunUnits caller is blocked on its batch; a task's owner is not, so batches go first.
      if (queue_ == nullptr) {
        RunTask(Runnable(), number, lock);
        continue;
      }
      Batch* b = queue_;
      if (--b->wanted == 0) Unqueue(b);
      ++b->inside;
      Work(b, number, lock);
      if (--b->inside == 0) b->left.notify_all();
    }
  }

  std::mutex mutex_;
  CondVar wake_;
  Batch* queue_ = nullptr;
  TaskState* tasks_ = nullptr;
  std::thread threads_[kMaxHelpers];
  size_t count_ = 0;
  uint64_t helper_units_ = 0;
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

PoolStats GetPoolStats() { return ThePool().Stats(); }

std::shared_ptr<BackgroundTask> BackgroundTask::Start(std::function<void(size_t)> work, size_t helpers,
                                                      std::shared_ptr<TaskGroup> group) {
  std::unique_ptr<State> state(new State());
  state->work = std::move(work);
  state->group = std::move(group);
  std::shared_ptr<BackgroundTask> task = std::make_shared<BackgroundTask>(state.get());
  ThePool().StartTask(state.release(), helpers);
  return task;
}

bool BackgroundTask::Done() { return ThePool().TaskDone(state_); }

void BackgroundTask::Join() { ThePool().JoinTask(state_); }

bool BackgroundTask::RunIfQueued() { return ThePool().RunTaskHere(state_); }

void BackgroundTask::Abandon() { ThePool().AbandonTask(state_); }

BackgroundTask::~BackgroundTask() { ThePool().ReleaseTask(state_); }

}  // namespace fastlayer
