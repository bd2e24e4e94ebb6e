// The whole layer computation for one stream: gzip framing, block cutting, CRC-32 (or zstd frames,
// zstd_frames.h), SHA-256 of the input (diffID) and of the output (digest), and the output byte count. No Node headers: the addon,
// the C baseline bench and the sanitizer/fuzz drivers all use this class.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>  // the exception types documented below
#include <vector>

#include "deflate.h"
#include "engine_stats.h"
#include "format.h"
#include "hash_stage.h"
#include "sha256.h"
#include "unit_window.h"
#include "zstd_stream.h"

namespace fastlayer {

enum class Mode { kGzip = 0, kNone = 1, kZstd = 2 };

// Threads one pipeline may compress on: its caller's and up to kMaxHelpers pool threads.
constexpr int kMaxThreads = 64;
// zstd frames in flight per layer, whatever `threads` says: a frame is 8 MiB of input (format
// version 1), so more would cost 8 MiB each and only a smaller frame (a new format version) could
// keep the memory bounded (docs/ZSTD.md).
constexpr int kZstdMaxThreads = 16;

struct Digests {
  uint8_t digest[32];
  uint8_t diff_id[32];
  uint64_t size;
};

class Pipeline {
 public:
  // Throws std::invalid_argument unless mode is a Mode value, 0 <= level <= 9 (gzip, none) or
  // 1 <= level <= 19 (zstd), and 1 <= threads <= kMaxThreads. With threads > 1 (gzip levels 1-9),
  // every full unit is handed to the block pool (unit_window.h) and Update returns the output of
  // the units finished so far, in order, while later ones go on compressing across calls; Flush and
  // Finish drain the window. The bytes are the same for every thread count and chunking. zstd
  // compresses each full frame in the background (zstd_stream.h), up to kZstdMaxThreads at once.
  // With threads > 1 (gzip levels 1-9, zstd) the SHA-256 of the input (with the CRC-32) and the
  // SHA-256 of the output each run on a thread of their own (hash_stage.h), so that neither hash
  // holds up compression; with threads 1 the calling thread hashes, as bytes are taken in and out.
  Pipeline(int level, Mode mode, int threads = 1);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Consumes len bytes (len may be 0); appends the bytes produced to *out (never clears it).
  void Update(const uint8_t* data, size_t len, std::vector<uint8_t>* out);
  // Appends the last block and the trailer to *out and fills *result.
  // After Finish, Update and Finish throw std::logic_error.
  void Finish(std::vector<uint8_t>* out, Digests* result);
  // A sync flush point (zlib's Z_SYNC_FLUSH): appends to *out what makes the output so far decode to
  // all input so far. gzip: the header, then the partial unit as a non-final unit (which ends on a
  // sync flush), so the next unit starts here; zstd: the current frame ends early and every frame in
  // flight is appended. The bytes after a flush depend on where the flushes were, and on nothing else.
  // After Finish, throws std::logic_error.
  void Flush(std::vector<uint8_t>* out);

  // Approximate heap bytes held (buffers and compressor state), for GC accounting.
  size_t MemoryUsage() const;
  // Work counts and stage seconds so far (engine_stats.h), as of the end of the last call. Not while
  // a call runs on another thread.
  const EngineStats& Stats() const { return stats_; }

 private:
  void CheckOpen() const;
  void UpdateBody(const uint8_t* data, size_t len, std::vector<uint8_t>* out);
  void FlushBody(std::vector<uint8_t>* out);
  // With threads > 1: appends every unit in flight, then hands the partial unit to the input hash.
  void DrainWindow(std::vector<uint8_t>* out);
  void WriteHeaderOnce(std::vector<uint8_t>* out);
  // Hashes and CRCs input bytes as they are taken in.
  void TakeInput(const uint8_t* data, size_t len);
  // Compresses one unit with the current window as dictionary, then slides the window.
  void CompressUnit(const uint8_t* data, size_t len, bool final, std::vector<uint8_t>* out);
  // Update for threads > 1: full units go to the window.
  void UpdateWindowed(const uint8_t* data, size_t len, std::vector<uint8_t>* out);
  // Hands one full unit to the window with the current dictionary, then slides the dictionary.
  void AddUnit(const uint8_t* data, std::vector<uint8_t>* out);
  // Hashes and counts output bytes appended to *out since `start`.
  void TakeOutput(const std::vector<uint8_t>& out, size_t start);
  // Copies the hash stages' seconds into stats_ (the end of each call).
  void SyncStats();

  const int level_;
  const Mode mode_;
  std::unique_ptr<Deflater> deflater_;
  Sha256 sha_in_;
  Sha256 sha_out_;
  uint32_t crc_ = 0;
  uint64_t in_size_ = 0;
  uint64_t out_size_ = 0;
  bool header_written_ = false;
  bool finished_ = false;
  // Partial unit carried between Update calls (whole units are compressed from the caller's memory).
  std::unique_ptr<uint8_t[]> block_;
  size_t block_len_ = 0;
  // Last kWindowSize bytes of input before the current unit.
  std::unique_ptr<uint8_t[]> window_;
  size_t window_len_ = 0;
  EngineStats stats_;
  // threads > 1 (gzip levels 1-9, zstd): the two hashes' threads. Declared before units_ and zstd_,
  // which hand them spans: those go first.
  std::unique_ptr<HashStage> in_hash_;
  std::unique_ptr<HashStage> out_hash_;
  // gzip with threads > 1 and level > 0: units in flight on the pool.
  std::unique_ptr<UnitWindow> units_;
  // zstd: the frames, compressed by this thread or in the background.
  std::unique_ptr<ZstdFrameStream> zstd_;
};

}  // namespace fastlayer
