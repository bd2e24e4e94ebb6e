// zstd output of one pipeline (mode 2): the input is cut into frames of kZstdFrameSize bytes
// (zstd_frames.h). With threads > 1, each full frame is compressed in the background on the block
// pool while the caller fills (and hashes) the next one, at most `threads` frames in flight; their
// outputs are appended in frame order, so the bytes never depend on which thread ran which frame or
// when it finished. With one thread every frame is compressed by the caller, in place.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "block_pool.h"
#include "engine_stats.h"
#include "zstd_frames.h"

namespace fastlayer {

class ZstdFrameStream {
 public:
  // Throws std::invalid_argument for a level outside kZstdMinLevel..kZstdMaxLevel.
  // Counts frames and compress seconds into *stats (which must outlive this stream).
  ZstdFrameStream(int level, int threads, EngineStats* stats);
  // Frames still in flight are abandoned: never waits for a pool thread.
  ~ZstdFrameStream();
  ZstdFrameStream(const ZstdFrameStream&) = delete;
  ZstdFrameStream& operator=(const ZstdFrameStream&) = delete;

  // Takes data[0..len); appends to *out the frames finished so far, in order.
  void Write(const uint8_t* data, size_t len, std::vector<uint8_t>* out);
  // Ends the current frame early (if it holds input) and appends every frame in flight, in order;
  // later input starts a new frame. Frame boundaries depend only on the input and the flush points.
  void Flush(std::vector<uint8_t>* out);
  // Compresses the rest (one empty frame if nothing was ever written) and appends every frame left.
  void Finish(std::vector<uint8_t>* out);
  // Approximate heap bytes held, frames in flight included.
  size_t MemoryUsage() const;

 private:
  // A frame handed to the pool: its input, its output and the compressor working on it. Shared with
  // the pool's task, so that an abandoned frame lives until its task lets go of it.
  struct Frame {
    std::vector<uint8_t> input;
    std::vector<uint8_t> output;
    std::unique_ptr<ZstdFrameCompressor> compressor;
    size_t thread = 0;  // who compressed it
    double seconds = 0;
  };
  struct InFlight {
    std::shared_ptr<Frame> frame;
    std::shared_ptr<BackgroundTask> task;
    size_t bytes;  // input bytes, for MemoryUsage (the frame itself belongs to the pool meanwhile)
  };

  // Compresses fill_ (full, or the last one) in place or in the background.
  void Submit(std::vector<uint8_t>* out);
  // Waits for the oldest frame in flight, appends its output and keeps its buffers for reuse.
  void CollectOldest(std::vector<uint8_t>* out);

  const int level_;
  const int threads_;
  EngineStats* const stats_;
  // At most threads - 1 pool threads at once: the caller fills (and hashes) the next frame.
  std::shared_ptr<TaskGroup> group_;
  std::vector<uint8_t> fill_;
  // The caller's compressor (one thread), and buffers of collected frames, kept for the next ones.
  std::unique_ptr<ZstdFrameCompressor> own_;
  std::vector<std::unique_ptr<ZstdFrameCompressor>> spare_compressors_;
  std::vector<std::vector<uint8_t>> spare_inputs_;
  std::vector<uint8_t> spare_output_;
  // A ring of frames in flight, oldest at head_.
  InFlight ring_[kMaxHelpers + 1];
  size_t head_ = 0;
  size_t count_ = 0;
  bool any_frame_ = false;
};

}  // namespace fastlayer
