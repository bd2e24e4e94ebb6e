#include "pipeline.h"

#include <isa-l.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>


namespace fastlayer {

static_assert(kBlockSize >= kWindowSize, "a unit's dictionary is the end of the unit before it");
static_assert(kMaxThreads == kMaxHelpers + 1, "one caller plus the pool's helpers");

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Pipeline::Pipeline(int level, Mode mode, int threads) : level_(level), mode_(mode) {
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
  // Stored blocks (level 0) cost a copy each: helpers would only add hand-offs.
  if (threads > 1 && (mode == Mode::kZstd || (mode == Mode::kGzip && level > 0))) {
    in_hash_.reset(new HashStage(mode == Mode::kGzip));
    out_hash_.reset(new HashStage(false));
    stats_.hash_threads = true;
  }
  // Made here so that a bad level or a missing libzstd feature fails at construction.
  if (mode == Mode::kZstd) zstd_.reset(new ZstdFrameStream(level, std::min(threads, kZstdMaxThreads), &stats_));
  if (mode == Mode::kGzip) {
    deflater_ = NewDeflater(level);
    block_.reset(new uint8_t[kBlockSize]);
    window_.reset(new uint8_t[kWindowSize]);
    if (in_hash_) {
      units_.reset(new UnitWindow(level, threads, deflater_.get(), &stats_, in_hash_.get(), out_hash_.get()));
    }
  }
}

Pipeline::~Pipeline() = default;

size_t Pipeline::MemoryUsage() const {
  size_t n = sizeof(*this);
  if (deflater_) n += deflater_->MemoryUsage();
  if (block_) n += kBlockSize;
  if (window_) n += kWindowSize;
  if (units_) n += units_->MemoryUsage();
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

void Pipeline::SyncStats() {
  if (!in_hash_) return;
  stats_.input_hash_s = in_hash_->BusySeconds();
  stats_.output_hash_s = out_hash_->BusySeconds();
  stats_.hash_wait_s = in_hash_->WaitSeconds() + out_hash_->WaitSeconds();
}

void Pipeline::TakeInput(const uint8_t* data, size_t len) {
  if (in_hash_) {
    in_size_ += len;
    in_hash_->PushCopy(data, len);
    return;
  }
  const double start = Now();
  sha_in_.Update(data, len);
  in_size_ += len;
  if (mode_ == Mode::kGzip && len > 0) crc_ = crc32_gzip_refl(crc_, data, len);
  stats_.input_hash_s += Now() - start;
}

void Pipeline::TakeOutput(const std::vector<uint8_t>& out, size_t start) {
  if (out.size() == start) return;
  if (out_hash_) {
    out_size_ += out.size() - start;
    out_hash_->PushCopy(out.data() + start, out.size() - start);
    return;
  }
  const double begin = Now();
  sha_out_.Update(out.data() + start, out.size() - start);
  out_size_ += out.size() - start;
  stats_.output_hash_s += Now() - begin;
}

void Pipeline::CompressUnit(const uint8_t* data, size_t len, bool final,
                            std::vector<uint8_t>* out) {
  const size_t start = out->size();
  const double begin = Now();
  deflater_->Deflate(window_.get(), window_len_, data, len, final, out);
  stats_.compress_s += Now() - begin;
  ++stats_.units[0];
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
  UpdateBody(data, len, out);
  SyncStats();
}

void Pipeline::UpdateBody(const uint8_t* data, size_t len, std::vector<uint8_t>* out) {
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
  if (units_) return UpdateWindowed(data, len, out);
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

void Pipeline::AddUnit(const uint8_t* data, std::vector<uint8_t>* out) {
  units_->Add(window_.get(), window_len_, data, kBlockSize, out);
  std::memcpy(window_.get(), data + kBlockSize - kWindowSize, kWindowSize);
  window_len_ = kWindowSize;
}

void Pipeline::UpdateWindowed(const uint8_t* data, size_t len, std::vector<uint8_t>* out) {
  // Both hashes run on their own threads, fed by the window from each unit's own buffers (no copy
  // here); bytes held in block_ are hashed with the unit they complete, or by Flush and Finish.
  const size_t start = out->size();
  in_size_ += len;
  units_->CollectReady(out);
  if (block_len_ > 0) {
    const size_t take = std::min(len, kBlockSize - block_len_);
    std::memcpy(block_.get() + block_len_, data, take);
    block_len_ += take;
    data += take;
    len -= take;
    if (block_len_ == kBlockSize) {
      AddUnit(block_.get(), out);
      block_len_ = 0;
    }
  }
  for (; len >= kBlockSize; data += kBlockSize, len -= kBlockSize) AddUnit(data, out);
  if (len > 0) {
    std::memcpy(block_.get(), data, len);
    block_len_ = len;
  }
  out_size_ += out->size() - start;
}

// The window's units went to the hash stages already; the partial unit in block_ was never hashed.
void Pipeline::DrainWindow(std::vector<uint8_t>* out) {
  const size_t start = out->size();
  units_->Drain(out);
  out_size_ += out->size() - start;
  in_hash_->PushCopy(block_.get(), block_len_);
}

void Pipeline::Flush(std::vector<uint8_t>* out) {
  CheckOpen();
  FlushBody(out);
  SyncStats();
}

void Pipeline::FlushBody(std::vector<uint8_t>* out) {
  if (mode_ == Mode::kNone) return;  // nothing held back
  if (mode_ == Mode::kZstd) {
    const size_t start = out->size();
    zstd_->Flush(out);
    TakeOutput(*out, start);
    return;
  }
  // Before any input the output so far is just the header: a decodable, empty prefix.
  WriteHeaderOnce(out);
  if (units_) DrainWindow(out);
  // Nothing pending: the last unit already ended on a sync flush.
  if (block_len_ == 0) return;
  CompressUnit(block_.get(), block_len_, false, out);
  block_len_ = 0;
}

void Pipeline::Finish(std::vector<uint8_t>* out, Digests* result) {
  CheckOpen();
  finished_ = true;
  if (mode_ == Mode::kNone) {
    // Output is the input: one hash serves both (no hash stage in this mode).
    sha_in_.Final(result->diff_id);
    std::memcpy(result->digest, result->diff_id, 32);
    result->size = in_size_;
    return;
  }
  if (mode_ == Mode::kZstd) {
    const size_t start = out->size();
    zstd_->Finish(out);
    TakeOutput(*out, start);
  } else {
    WriteHeaderOnce(out);
    if (units_) DrainWindow(out);
    CompressUnit(block_.get(), block_len_, true, out);
  }
  // The CRC-32 is final once every input byte is hashed: only then can the trailer be written.
  if (in_hash_) {
    in_hash_->Finish(result->diff_id, &crc_);
  } else {
    sha_in_.Final(result->diff_id);
  }
  if (mode_ == Mode::kGzip) {
    const size_t start = out->size();
    const uint32_t isize = static_cast<uint32_t>(in_size_);
    const uint8_t trailer[8] = {
        static_cast<uint8_t>(crc_),         static_cast<uint8_t>(crc_ >> 8),
        static_cast<uint8_t>(crc_ >> 16),   static_cast<uint8_t>(crc_ >> 24),
        static_cast<uint8_t>(isize),        static_cast<uint8_t>(isize >> 8),
        static_cast<uint8_t>(isize >> 16),  static_cast<uint8_t>(isize >> 24)};
    out->insert(out->end(), trailer, trailer + sizeof(trailer));
    TakeOutput(*out, start);
  }
  if (out_hash_) {
    uint32_t no_crc;
    out_hash_->Finish(result->digest, &no_crc);
  } else {
    sha_out_.Final(result->digest);
  }
  result->size = out_size_;
  SyncStats();
}

}  // namespace fastlayer
