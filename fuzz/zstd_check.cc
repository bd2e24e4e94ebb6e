#include "zstd_check.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "ref_sha256.h"
#include "zstd_frames.h"

namespace reftest {

Run RunZstd(const uint8_t* in, size_t n, int level, const Chunking& chunks, int threads) {
  fastlayer::Pipeline p(level, fastlayer::Mode::kZstd, threads);
  return FeedAndFinish(p, in, n, chunks, "zstd: ");
}

void VerifyZstd(const uint8_t* in, size_t n, const Run& run, const char* context) {
  const auto diff_id = RefSha256(in, n);
  const auto digest = RefSha256(run.out.data(), run.out.size());
  if (std::memcmp(diff_id.data(), run.digests.diff_id, 32) != 0) Fail("%s: zstd diffID wrong", context);
  if (std::memcmp(digest.data(), run.digests.digest, 32) != 0) Fail("%s: zstd digest wrong", context);
  if (run.digests.size != run.out.size()) Fail("%s: zstd size %llu, output %zu", context,
                                               static_cast<unsigned long long>(run.digests.size), run.out.size());
  const size_t want_frames = n == 0 ? 1 : (n + fastlayer::kZstdFrameSize - 1) / fastlayer::kZstdFrameSize;
  size_t frames = 0;
  size_t at = 0;
  std::vector<uint8_t> decoded;
  ZSTD_DCtx* d = ZSTD_createDCtx();
  if (d == nullptr) throw std::bad_alloc();
  while (at < run.out.size()) {
    const size_t len = ZSTD_findFrameCompressedSize(run.out.data() + at, run.out.size() - at);
    if (ZSTD_isError(len)) Fail("%s: frame %zu: %s", context, frames, ZSTD_getErrorName(len));
    ZSTD_frameHeader h;
    if (ZSTD_getFrameHeader(&h, run.out.data() + at, len) != 0) Fail("%s: frame %zu header", context, frames);
    if (!h.checksumFlag) Fail("%s: frame %zu has no checksum", context, frames);
    if (h.frameContentSize != ZSTD_CONTENTSIZE_UNKNOWN) Fail("%s: frame %zu records its content size", context, frames);
    if (h.windowSize > fastlayer::kZstdFrameSize) Fail("%s: frame %zu window %llu", context, frames,
                                                     static_cast<unsigned long long>(h.windowSize));
    // Streaming decode of this frame alone (checks its checksum).
    ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    ZSTD_inBuffer ib{run.out.data() + at, len, 0};
    std::vector<uint8_t> buf(1 << 17);
    size_t r = 1;
    while (r != 0) {
      ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
      r = ZSTD_decompressStream(d, &ob, &ib);
      if (ZSTD_isError(r)) Fail("%s: frame %zu decode: %s", context, frames, ZSTD_getErrorName(r));
      decoded.insert(decoded.end(), buf.data(), buf.data() + ob.pos);
      if (r != 0 && ib.pos == ib.size && ob.pos == 0) Fail("%s: frame %zu truncated", context, frames);
    }
    const size_t frame_len = decoded.size() - frames * fastlayer::kZstdFrameSize;
    if (frames + 1 < want_frames && frame_len != fastlayer::kZstdFrameSize) {
      Fail("%s: frame %zu holds %zu bytes, not a full frame", context, frames, frame_len);
    }
    at += len;
    ++frames;
  }
  ZSTD_freeDCtx(d);
  if (frames != want_frames) Fail("%s: %zu frames for %zu bytes, want %zu", context, frames, n, want_frames);
  if (decoded.size() != n || (n > 0 && std::memcmp(decoded.data(), in, n) != 0)) {
    Fail("%s: zstd round trip differs (%zu bytes back of %zu)", context, decoded.size(), n);
  }
}

void CheckZstdCase(const uint8_t* in, size_t n, int level, const std::vector<Chunking>& chunkings,
                   const char* context) {
  const Run first = RunZstd(in, n, level, chunkings.at(0), 1);
  VerifyZstd(in, n, first, context);
  for (size_t i = 1; i < chunkings.size(); ++i) {
    ExpectSameRun(first, RunZstd(in, n, level, chunkings[i], 1 + static_cast<int>(i % 4)), context);
  }
  ExpectSameRun(first, RunZstd(in, n, level, chunkings[0], 4), context);
  // Destroyed without Finish, full frames still compressing on the pool: they are abandoned, and
  // freed by whichever side lets go last (ASan: no leak, no use after free; TSan: no race).
  if (n >= fastlayer::kZstdFrameSize) {
    std::vector<uint8_t> out;
    fastlayer::Pipeline abandoned(level, fastlayer::Mode::kZstd, 3);
    abandoned.Update(in, n, &out);
  }
}

void RunFuzzInputAnyMode(const uint8_t* data, size_t size) {
  if (size > 1 && (data[1] & 0x40) != 0) {
    const FuzzCase c = DecodeFuzzInput(data, size);
    CheckZstdCase(c.input.data(), c.input.size(), 1 + data[0] % 19, c.chunkings, "fuzz input, zstd");
    return;
  }
  RunFuzzInput(data, size);
}

void ZstdRandomRuns(uint32_t seed, double seconds) {
  Mulberry32 rng(seed);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t cases = 0;
  do {
    // Mostly small inputs; one in eight crosses one or two frame boundaries, give or take a few bytes.
    size_t n = rng.Next() % (1u << (rng.Next() % 19));
    if (rng.Next() % 8 == 0) {
      n = (1 + rng.Next() % 2) * fastlayer::kZstdFrameSize + (rng.Next() % 64) - 32;
    }
    std::vector<uint8_t> in;
    GenMixed(rng.Next(), n, &in);
    // High levels only on small inputs, so a run covers many cases.
    const int level = n > (1u << 20) ? 1 + static_cast<int>(rng.Next() % 4) : 1 + static_cast<int>(rng.Next() % 19);
    std::vector<Chunking> chunkings;
    for (int i = 0; i < 3; ++i) chunkings.push_back(RandomChunking(rng, n, rng.Next() % kChunkStyles));
    const std::string context = "zstd seed " + std::to_string(seed) + " case " + std::to_string(cases) +
                                " level " + std::to_string(level) + " size " + std::to_string(n);
    CheckZstdCase(in.data(), n, level, chunkings, context.c_str());
    ++cases;
  } while (std::chrono::steady_clock::now() < end);
  std::printf("zstd: %zu cases passed\n", cases);
}

}  // namespace reftest
