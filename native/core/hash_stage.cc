#include "hash_stage.h"

#include <isa-l.h>

#include <chrono>
#include <cstring>
#include <utility>

namespace fastlayer {

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

HashStage::HashStage(bool crc) : crc_on_(crc), thread_([this] { Run(); }) {}

HashStage::~HashStage() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
  // Spans never hashed are dropped with queue_ (their owners let go).
}

void HashStage::WaitFor(std::unique_lock<std::mutex>& lock, size_t queued_at_most) {
  auto ready = [&] { return queued_ + (hashing_ ? 1 : 0) <= queued_at_most; };
  if (ready()) return;
  const Clock::time_point start = Clock::now();
  changed_.wait(lock, ready);
  wait_s_ += Since(start);
}

void HashStage::Push(std::shared_ptr<const void> owner, const uint8_t* data, size_t len) {
  if (len == 0) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // The span being hashed counts: at most kMaxQueued spans are held at once.
    WaitFor(lock, kMaxQueued - 1);
    queue_[(head_ + queued_) % kMaxQueued] = Span{std::move(owner), data, len};
    ++queued_;
  }
  changed_.notify_all();
}

void HashStage::PushCopy(const uint8_t* data, size_t len) {
  while (len > 0) {
    const size_t n = len < kCopyPiece ? len : kCopyPiece;
    auto copy = std::make_shared<std::vector<uint8_t>>(data, data + n);
    const uint8_t* bytes = copy->data();
    Push(std::move(copy), bytes, n);
    data += n;
    len -= n;
  }
}

void HashStage::Finish(uint8_t digest[32], uint32_t* crc) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    WaitFor(lock, 0);
  }
  // The thread has hashed every span and waits for more: its state is ours now (the lock above
  // orders its last writes before these reads).
  sha_.Final(digest);
  *crc = crc_;
}

void HashStage::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || queued_ > 0; });
    if (stop_) return;
    Span span = std::move(queue_[head_]);
    head_ = (head_ + 1) % kMaxQueued;
    --queued_;
    hashing_ = true;
    lock.unlock();
    const Clock::time_point start = Clock::now();
    sha_.Update(span.data, span.len);
    if (crc_on_) crc_ = crc32_gzip_refl(crc_, span.data, span.len);
    busy_ns_.fetch_add(static_cast<uint64_t>(Since(start) * 1e9), std::memory_order_relaxed);
    // Let go of the owner before saying so: a unit's buffers may be reused once nobody holds them.
    span.owner.reset();
    lock.lock();
    hashing_ = false;
    changed_.notify_all();
  }
}

}  // namespace fastlayer
