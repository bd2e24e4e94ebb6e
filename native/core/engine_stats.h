// Where one pipeline's time and work went (docs/DESIGN.md, "Native addon API": stats()), for tests
// and the scaling bench: which threads compressed its units (gzip) or frames (zstd), and the seconds
// spent per stage. Compress seconds are summed over every thread. The hash seconds are those of the
// thread that hashes: the calling thread with threads 1, each hash's own thread (hash_stage.h)
// otherwise, as of the end of the last call.
#pragma once
#include <cstddef>
#include <cstdint>

#include "block_pool.h"

namespace fastlayer {

struct EngineStats {
  // units[0]: compressed by the calling thread (the one making Update/Flush/Finish calls);
  // units[k], k >= 1: by pool thread k (a pool thread keeps its number for its whole life).
  uint64_t units[kMaxHelpers + 1] = {};
  double input_hash_s = 0;   // SHA-256 and CRC-32 of the input, and copying it into units
  double compress_s = 0;     // deflate or zstd, on any thread
  double output_hash_s = 0;  // appending the output in order and its SHA-256
  double wait_s = 0;         // the calling thread waiting for a unit a pool thread still compresses
  double hash_wait_s = 0;    // the calling thread waiting for a hash thread (its queue full, or the end)
  // Set at construction. True: the two hashes run on threads of their own, and units or frames go
  // to helpers (threads > 1, gzip levels 1-9 or zstd). False: the whole pipeline runs on its
  // calling thread, whatever `threads` said.
  bool hash_threads = false;
};

}  // namespace fastlayer
