// A condition variable on POSIX's pthread_cond_t, for every wait in the core.
// std::condition_variable::wait binds to GLIBCXX_3.4.30 when built with GCC 12, which would keep the
// prebuilt addon off systems with an older libstdc++ (RHEL 9, Amazon Linux 2023: docs/PACKAGING.md
// promises GLIBCXX_3.4.26 at most, and test/packaging/prebuild.test.ts checks it); POSIX's condition
// variable needs only libc.
#pragma once
#include <pthread.h>

#include <mutex>

namespace fastlayer {

class CondVar {
 public:
  CondVar() { pthread_cond_init(&cond_, nullptr); }
  ~CondVar() { pthread_cond_destroy(&cond_); }
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  template <typename Ready>
  void wait(std::unique_lock<std::mutex>& lock, Ready ready) {
    while (!ready()) pthread_cond_wait(&cond_, lock.mutex()->native_handle());
  }
  void notify_one() { pthread_cond_signal(&cond_); }
  void notify_all() { pthread_cond_broadcast(&cond_); }

 private:
  pthread_cond_t cond_;
};

}  // namespace fastlayer
