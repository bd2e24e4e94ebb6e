// Helper threads that compress the units of one call together with the thread that made the call.
// The format makes units independent (each has its own dictionary: the 32 KiB of input before it),
// so which thread compresses which unit never changes the bytes; the caller still hashes and
// appends them in order. The pool is process-wide and shared by every pipeline: a machine with many
// layers in flight gets at most its helper threads, not a set per layer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace fastlayer {

// Most helper threads the pool ever starts; a pipeline asks for fewer.
constexpr size_t kMaxHelpers = 63;

// Calls work(index, thread) once for every index in [0, n), from the calling thread (thread 0) and
// at most `helpers` pool threads (thread 1..kMaxHelpers: a pool thread's number for its whole life,
// so per-thread state can be kept by number). The caller runs caller_first() first, while helpers
// already take
// indices, then takes indices itself; it returns once every index is done. Helpers busy with other
// calls are not waited for: the caller then does all the work itself. The first exception thrown by
// work is rethrown here, after every index started has finished; indices not started by then are
// skipped.
void RunUnits(size_t n, size_t helpers, const std::function<void(size_t index, size_t thread)>& work,
              const std::function<void()>& caller_first);

// Work that a pool thread runs in the background while its owner goes on (zstd frames compress
// while the next frame fills). The owner collects it with Join(), which runs the work on the calling
// thread if no pool thread has started it: a busy or absent pool never leaves it waiting for a
// thread. An owner that goes away calls Abandon(), which never waits.
// The tasks of one owner (one layer): at most `limit` of them run on pool threads at once, so that a
// layer with threads N uses at most N - 1 pool threads plus its own calling thread (which runs a
// task at Join when no pool thread has taken it), however many of its tasks are queued. Its fields
// belong to the pool (guarded by the pool's lock).
struct TaskGroup {
  explicit TaskGroup(size_t limit) : limit(limit) {}
  const size_t limit;
  size_t running = 0;
};

class BackgroundTask {
 public:
  // Queues `work` for the pool, starting up to `helpers` pool threads. work(thread) is told the
  // number of the thread running it: 1..kMaxHelpers for a pool thread, 0 for the owner at Join.
  // Never throws for lack of threads (the work then runs at Join); may throw std::bad_alloc. With a
  // group, the task waits while `group->limit` tasks of that group run on pool threads.
  static std::shared_ptr<BackgroundTask> Start(std::function<void(size_t thread)> work, size_t helpers,
                                               std::shared_ptr<TaskGroup> group = nullptr);
  // True once the work has run (or failed); never blocks.
  bool Done();
  // Returns once the work has run, on a pool thread or here; rethrows its exception. Call once.
  void Join();
  // Runs the work here (as thread 0) if no pool thread has taken it yet, and returns true; else
  // false at once. Lets an owner waiting for its oldest task compress a later one meanwhile. Its
  // exception is kept for Join.
  bool RunIfQueued();
  // Not started yet: it never runs. Running: it finishes on its own, and nobody waits for it.
  void Abandon();

  struct State;
  explicit BackgroundTask(State* state) : state_(state) {}
  ~BackgroundTask();
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;

 private:
  State* state_;
};

// Pool threads started so far, and units compressed on them since the process started (tests and
// diagnostics: a parallel path that never reached a helper would still give the right bytes).
struct PoolStats {
  size_t threads;
  uint64_t helper_units;
};
PoolStats GetPoolStats();

}  // namespace fastlayer
