// Runs the C++ core (native/core/pipeline.h) on an input cut into chunks and judges the result against the
// independent models in ref_*.h. Every failure aborts with a message, so that ASan/UBSan, libFuzzer
// and plain runs all stop on it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gen.h"
#include "pipeline.h"

namespace reftest {

// Chunk sizes (zeros allowed), summing to the input length.
using Chunking = std::vector<size_t>;

// A level in 0..9, or kNone for compression 'none'.
constexpr int kNone = -1;

struct Run {
  std::vector<uint8_t> out;
  fastlayer::Digests digests;
};

[[noreturn]] void Fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

const char* LevelName(int level);

// Feeds `in` to `p` in `chunks` and finishes it. Each chunk comes from its own exact-size heap copy,
// scribbled over and freed right after Update, so ASan catches reads past a chunk and any pointer the
// core keeps into caller memory; the output vector starts non-empty (the core must append, never
// clear). `what` prefixes the failure messages ("" or e.g. "zstd: ").
Run FeedAndFinish(fastlayer::Pipeline& p, const uint8_t* in, size_t n, const Chunking& chunks, const char* what);

// FeedAndFinish on a gzip or 'none' pipeline, then checks that the finished pipeline refuses more
// work. `threads` is the pipeline's thread count (1: no helpers).
Run RunPipeline(const uint8_t* in, size_t n, int level, const Chunking& chunks, int threads = 1);

// Every property of one result: digest, diffID and size against the reference SHA-256 and the
// output length; for gzip the member check, plus exact bytes for level 0 (stored model) and
// levels 3-9 (zlib model); for 'none' output == input and digest == diffID. `models` = false skips
// the exact-bytes models (they cost a second compression; used for quick runs under emulation).
void VerifyRun(const uint8_t* in, size_t n, int level, const Run& run, const char* context, bool models = true);

void ExpectSameRun(const Run& a, const Run& b, const char* context);

// One of several chunking styles: whole, fixed sizes, random sizes with empty chunks, tiny sizes,
// cuts hugging block boundaries, sizes spread over orders of magnitude.
Chunking RandomChunking(Mulberry32& rng, size_t n, uint32_t style);
constexpr uint32_t kChunkStyles = 6;

// Runs `in` with each chunking, verifies the first and requires identical results: the first on one
// thread, the others on 2, 3, 4, 1, ... threads, and the first again on 4 threads.
void CheckCase(const uint8_t* in, size_t n, int level, const std::vector<Chunking>& chunkings,
               const char* context);

// One flush point at `at` (0..n) in a gzip run fed in `chunks` (flush_check.cc): the output so far
// inflates to in[0..at), the whole to `in` with matching digests, and 4 threads give the same bytes.
void CheckFlush(const uint8_t* in, size_t n, int level, size_t at, const Chunking& chunks);

// The fuzz input layout (shared by the libFuzzer target and regression replay):
//   byte 0: level (value % 11; 10 means 'none')
//   byte 1: bit 0 force portable SHA-256, bits 1-3 chunking style, bit 4 stretch, bit 5 vary repeats
//   bytes 2-5: chunking seed (little endian)
//   bytes 6-8: stretch length ((256 + byte6) << (byte7 % 21) >> 8) + (int8_t)byte8, at least 0:
//              log-distributed up to 2 MiB, so small inputs stay fast and every size near a block
//              boundary is reachable
//   rest: payload (the input itself, or repeated up to the stretch length)
// Missing header bytes count as zero.
struct FuzzCase {
  std::vector<uint8_t> input;
  int level;
  bool portable_sha256;
  std::vector<Chunking> chunkings;  // the fuzz-chosen one, then whole
};
FuzzCase DecodeFuzzInput(const uint8_t* data, size_t size);
void RunFuzzInput(const uint8_t* data, size_t size);

// SHA-256 of the core (default dispatch and forced portable) against the reference, with random
// lengths and random Update splits.
void CheckSha256Once(Mulberry32& rng, size_t max_len);
void CheckSha256SharedOnce(Mulberry32& rng, size_t max_len);

}  // namespace reftest
