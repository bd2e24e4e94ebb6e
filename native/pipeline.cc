#include "pipeline.h"

#include <isa-l.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "block_pool.h"

namespace fastlayer {

static_assert(kBlockSize >= kWindowSize, "a unit's dictionary is the end of the unit before it");
static_assert(kMaxThreads == kMaxHelpers + 1, "one caller plus the pool's helpers");

namespace {

// Pool thread `thread`'s compressor for `level`, made on first use and kept: the pool is shared by
// every pipeline, so these are bounded by its threads, not by the layers. Each entry is only ever
// touched by its own thread. Never freed, since a pool thread may still compress during exit; not
// thread_local, which would make the addon need the dynamic loader's TLS at run time.
Deflater* HelperDeflater(size_t thread, int level) {
  static auto* table = new std::unique_ptr<Deflater>[(kMaxHelpers + 1) * 10];
  std::unique_ptr<Deflater>& d = table[thread * 10 + static_cast<size_t>(level)];
  if (!d) d = NewDeflater(level);
  return d.get();
}

}  // namespace

Pipeline::Pipeline(int level, Mode mode, int threads) : level_(level), mode_(mode), threads_(threads) {
  if (mode == Mode::kZstd) {
    if (level < kZstdMinLevel || level > kZstdMaxLevel) {
      throw std::invalid_argument("fastlayer: zstd compression level must be an integer from 1 to 19");
    }
  } else if (level < 0 || level > 9) {
    throw std::invalid_argument("fastlayer: compression level must be an integer from 0 to 9");
  }
  if (threads < 1 || threads > kMaxThreads) {
    throw std::invalid_argument("fastlayer: threads must be an integer from 1 to " + std::to_string(kMaxThreads));
  }
  if (mode != Mode::kGzip && mode != Mode::kNone && mode != Mode::kZstd) {
    throw std::invalid_argument("fastlayer: mode must be 0 (gzip), 1 (none) or 2 (zstd)");
  }
  // Made here so that a bad level or a missing libzstd feature fails at construction.
  if (mode == Mode::kZstd) zstd_.reset(new ZstdFrameStream(level, threads));
  if (mode == Mode::kGzip) {
    deflater_ = NewDeflater(level);
    block_.reset(new uint8_t[kBlockSize]);
    window_.reset(new uint8_t[kWindowSize]);
  }
}

Pipeline::~Pipeline() = default;

size_t Pipeline::MemoryUsage() const {
  size_t n = sizeof(*this);
  if (deflater_) n += deflater_->MemoryUsage();
  if (block_) n += kBlockSize;
  if (window_) n += kWindowSize;
  for (const auto& v : unit_out_) n += v.capacity();
  if (zstd_) n += zstd_->MemoryUsage();
  return n;
}

void Pipeline::CheckOpen() const {
  if (finished_) throw std::logic_error("fastlayer: pipeline already finished");
}

void Pipeline::WriteHeaderOnce(std::vector<uint8_t>* out) {
  if (header_written_) return;
  header_written_ = true;
  const size_t start = out->size();
  out->insert(out->end(), kGzipHeader, kGzipHeader + sizeof(kGzipHeader));
  TakeOutput(*out, start);
}

void Pipeline::TakeInput(const uint8_t* data, size_t len) {
  sha_in_.Update(data, len);
  in_size_ += len;
  if (mode_ == Mode::kGzip && len > 0) crc_ = crc32_gzip_refl(crc_, data, len);
}

void Pipeline::TakeOutput(const std::vector<uint8_t>& out, size_t start) {
  sha_out_.Update(out.data() + start, out.size() - start);
  out_size_ += out.size() - start;
}

void Pipeline::CompressUnit(const uint8_t* data, size_t len, bool final,
                            std::vector<uint8_t>* out) {
  const size_t start = out->size();
  deflater_->Deflate(window_.get(), window_len_, data, len, final, out);
  TakeOutput(*out, start);
  if (len >= kWindowSize) {
    std::memcpy(window_.get(), data + len - kWindowSize, kWindowSize);
    window_len_ = kWindowSize;
  } else if (!final) {
    // A unit shorter than the window (one a Flush cut): keep the newest bytes of window + data.
    const size_t keep = std::min(window_len_, kWindowSize - len);
    std::memmove(window_.get(), window_.get() + window_len_ - keep, keep);
    std::memcpy(window_.get() + keep, data, len);
    window_len_ = keep + len;
  }
}

// Room to reserve in *out for len more input bytes, so that a call usually allocates its output
// once instead of growing it unit by unit. Affects allocation only, never the bytes.
static size_t ReserveHint(Mode mode, bool stored, size_t len) {
  if (mode == Mode::kNone) return len;
  if (mode == Mode::kZstd) return 0;  // output comes a frame at a time, appended by ZstdFrameStream
  if (stored) return len + 5 * (len / 65535 + 2) + sizeof(kGzipHeader);
  return len / 2 + 4096;
}

void Pipeline::Update(const uint8_t* data, size_t len, std::vector<uint8_t>* out) {
  CheckOpen();
  const size_t hint = ReserveHint(mode_, level_ == 0, len);
  // Geometric growth: a caller appending many small calls to one vector stays linear.
  if (out->capacity() - out->size() < hint) out->reserve(std::max(out->size() + hint, 2 * out->capacity()));
  if (mode_ == Mode::kNone) {
    if (len == 0) return;
    TakeInput(data, len);
    out->insert(out->end(), data, data + len);
    return;
  }
  if (mode_ == Mode::kZstd) {
    // Hashed here, while the pool compresses earlier frames in the background.
    TakeInput(data, len);
    const size_t start = out->size();
    zstd_->Write(data, len, out);
    TakeOutput(*out, start);
    return;
  }
  WriteHeaderOnce(out);
  if (len == 0) return;  // data may be null
  // Stored blocks cost a copy each: helpers would only add hand-offs.
  if (threads_ > 1 && level_ > 0 && UnitsCompleted(len) >= 2) return UpdateParallel(data, len, out);
  if (block_len_ > 0) {
    const size_t take = std::min(len, kBlockSize - block_len_);
    TakeInput(data, take);
    std::memcpy(block_.get() + block_len_, data, take);
    block_len_ += take;
    data += take;
    len -= take;
    if (block_len_ < kBlockSize) return;
    CompressUnit(block_.get(), kBlockSize, false, out);
    block_len_ = 0;
  }
  // Whole units straight from the caller's memory, hashed while they are still in cache.
  while (len >= kBlockSize) {
    TakeInput(data, kBlockSize);
    CompressUnit(data, kBlockSize, false, out);
    data += kBlockSize;
    len -= kBlockSize;
  }
  if (len > 0) {
    TakeInput(data, len);
    std::memcpy(block_.get(), data, len);
    block_len_ = len;
  }
}

void Pipeline::UpdateParallel(const uint8_t* data, size_t len, std::vector<uint8_t>* out) {
  // The caller hashes the whole input (and its CRC) while the helpers start compressing.
  const auto take_input = [this, data, len] { TakeInput(data, len); };
  struct Unit {
    const uint8_t* dict;
    size_t dict_len;
    const uint8_t* data;
  };
  std::vector<Unit> units;
  units.reserve(UnitsCompleted(len));
  const uint8_t* dict = window_.get();
  size_t dict_len = window_len_;
  const auto add = [&](const uint8_t* unit) {
    units.push_back(Unit{dict, dict_len, unit});
    dict = unit + kBlockSize - kWindowSize;
    dict_len = kWindowSize;
  };
  if (block_len_ > 0) {
    const size_t take = kBlockSize - block_len_;  // len > take: at least two units complete
    std::memcpy(block_.get() + block_len_, data, take);
    add(block_.get());
    data += take;
    len -= take;
  }
  for (; len >= kBlockSize; data += kBlockSize, len -= kBlockSize) add(data);

  // Groups of a few units per thread bound the per-unit outputs kept, whatever the call's size.
  constexpr size_t kGroupPerThread = 2;
  const size_t group = kGroupPerThread * static_cast<size_t>(threads_);
  for (size_t first = 0; first < units.size(); first += group) {
    const size_t count = std::min(group, units.size() - first);
    if (unit_out_.size() < count) unit_out_.resize(count);
    // Outputs are hashed and appended in order by whichever thread finds the next one done, so that
    // the hashing overlaps the compression of later units instead of following all of it.
    struct {
      std::mutex mutex;
      bool done[kGroupPerThread * kMaxThreads] = {};
      size_t next = 0;  // the first output not appended yet
      bool busy = false;  // a thread is appending (unlocked)
    } order;
    // Marks output i done, then appends every ready one unless another thread is already at it.
    const auto done = [&](size_t i) {
      std::unique_lock<std::mutex> lock(order.mutex);
      order.done[i] = true;
      if (order.busy) return;  // that thread will find ours too
      order.busy = true;
      while (order.next < count && order.done[order.next]) {
        const size_t k = order.next;
        lock.unlock();
        const size_t start = out->size();
        out->insert(out->end(), unit_out_[k].begin(), unit_out_[k].end());
        TakeOutput(*out, start);
        lock.lock();
        ++order.next;
      }
      order.busy = false;
    };
    RunUnits(
        count, static_cast<size_t>(threads_ - 1),
        [&](size_t i, size_t thread) {
          const Unit& u = units[first + i];
          Deflater* deflater = thread == 0 ? deflater_.get() : HelperDeflater(thread, level_);
          unit_out_[i].clear();
          deflater->Deflate(u.dict, u.dict_len, u.data, kBlockSize, false, &unit_out_[i]);
          done(i);
        },
        first == 0 ? std::function<void()>(take_input) : [] {});
    // A unit that failed stops the appending; RunUnits has rethrown its exception then.
    if (order.next != count) throw std::logic_error("fastlayer: a unit's output was not appended");
  }
  std::memcpy(window_.get(), units.back().data + kBlockSize - kWindowSize, kWindowSize);
  window_len_ = kWindowSize;
  std::memcpy(block_.get(), data, len);
  block_len_ = len;
}

void Pipeline::Flush(std::vector<uint8_t>* out) {
  CheckOpen();
  if (mode_ == Mode::kNone) return;  // nothing held back
  if (mode_ == Mode::kZstd) {
    const size_t start = out->size();
    zstd_->Flush(out);
    TakeOutput(*out, start);
    return;
  }
  // Before any input the output so far is just the header: a decodable, empty prefix.
  WriteHeaderOnce(out);
  // Nothing pending: the last unit already ended on a sync flush.
  if (block_len_ == 0) return;
  CompressUnit(block_.get(), block_len_, false, out);
  block_len_ = 0;
}

void Pipeline::Finish(std::vector<uint8_t>* out, Digests* result) {
  CheckOpen();
  finished_ = true;
  sha_in_.Final(result->diff_id);
  if (mode_ == Mode::kNone) {
    // Output is the input: one hash serves both.
    std::memcpy(result->digest, result->diff_id, 32);
    result->size = in_size_;
    return;
  }
  if (mode_ == Mode::kZstd) {
    const size_t start = out->size();
    zstd_->Finish(out);
    TakeOutput(*out, start);
    sha_out_.Final(result->digest);
    result->size = out_size_;
    return;
  }
  WriteHeaderOnce(out);
  CompressUnit(block_.get(), block_len_, true, out);
  const size_t start = out->size();
  const uint32_t isize = static_cast<uint32_t>(in_size_);
  const uint8_t trailer[8] = {
      static_cast<uint8_t>(crc_),         static_cast<uint8_t>(crc_ >> 8),
      static_cast<uint8_t>(crc_ >> 16),   static_cast<uint8_t>(crc_ >> 24),
      static_cast<uint8_t>(isize),        static_cast<uint8_t>(isize >> 8),
      static_cast<uint8_t>(isize >> 16),  static_cast<uint8_t>(isize >> 24)};
  out->insert(out->end(), trailer, trailer + sizeof(trailer));
  TakeOutput(*out, start);
  sha_out_.Final(result->digest);
  result->size = out_size_;
}

}  // namespace fastlayer
