// One hash of a layer (the SHA-256 of its input with the gzip CRC-32, or the SHA-256 of its output) on
// a thread of its own, fed in order as the bytes arrive (docs/DESIGN.md, "Threads"): with both hashes
// on their own threads one layer is bound by the slower hash, not by the sum of its stages.
// The caller hands over spans in byte order; the thread hashes them in that order, so the digest is
// the one a single Sha256 over the same bytes gives, whatever the timing.
// Memory: at most kMaxQueued spans wait at once; a span is either a copy of at most kCopyPiece bytes
// or memory that its owner (a compressed unit) keeps alive until it is hashed. Push waits while the
// queue is full, so a fast producer is held to the hash's speed.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cond_var.h"
#include "sha256.h"

namespace fastlayer {

class HashStage {
 public:
  static constexpr size_t kMaxQueued = 4;
  static constexpr size_t kCopyPiece = 256 * 1024;

  // crc: also the gzip CRC-32 (the input hash of a gzip layer). Starts the thread; may throw
  // std::system_error (no thread) or std::bad_alloc.
  explicit HashStage(bool crc);
  // Drops what is still queued and joins the thread (it ends after the span it is hashing).
  ~HashStage();
  HashStage(const HashStage&) = delete;
  HashStage& operator=(const HashStage&) = delete;

  // Queues data[0..len), which `owner` keeps alive and unchanged until hashed. Waits while the queue
  // is full. len may be 0 (nothing is queued).
  void Push(std::shared_ptr<const void> owner, const uint8_t* data, size_t len);
  // Queues a copy of data[0..len), in pieces of at most kCopyPiece bytes.
  void PushCopy(const uint8_t* data, size_t len);
  // Waits until every span queued is hashed, then writes the digest and the CRC-32 (0 without crc).
  // Call once, last.
  void Finish(uint8_t digest[32], uint32_t* crc);

  // Seconds the thread spent hashing so far; any thread may ask.
  double BusySeconds() const { return busy_ns_.load(std::memory_order_relaxed) * 1e-9; }
  // Seconds the caller spent waiting for this stage (a full queue, or Finish).
  double WaitSeconds() const { return wait_s_; }

 private:
  struct Span {
    std::shared_ptr<const void> owner;
    const uint8_t* data;
    size_t len;
  };
  void Run();
  void WaitFor(std::unique_lock<std::mutex>& lock, size_t queued_at_most);

  const bool crc_on_;
  std::mutex mu_;
  CondVar changed_;
  // A ring of kMaxQueued spans (Push never queues more), guarded by mu_: a fixed array, as a deque
  // would bind the prebuild to a newer libstdc++ (cond_var.h says why that matters).
  std::array<Span, kMaxQueued> queue_{};
  size_t head_ = 0;
  size_t queued_ = 0;
  bool hashing_ = false;    // guarded by mu_: the thread holds a span taken off the queue
  bool stop_ = false;       // guarded by mu_
  std::atomic<uint64_t> busy_ns_{0};
  double wait_s_ = 0;  // the caller's only
  // The thread's alone until Finish has seen the queue empty.
  Sha256 sha_;
  uint32_t crc_ = 0;
  std::thread thread_;  // last: started once the fields above exist
};

}  // namespace fastlayer
