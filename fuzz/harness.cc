#include "harness.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "format.h"
#include "ref_format.h"
#include "ref_sha256.h"
#include "sha256.h"

namespace reftest {

using fastlayer::kBlockSize;

void Fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("FAIL: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::abort();
}

const char* LevelName(int level) {
  static const char* names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return level == kNone ? "none" : names[level];
}

Run FeedAndFinish(fastlayer::Pipeline& p, const uint8_t* in, size_t n, const Chunking& chunks, const char* what) {
  // A non-empty starting vector: the core must append, never clear.
  Run run;
  run.out = {0xde, 0xad};
  size_t pos = 0;
  for (size_t len : chunks) {
    if (len > n - pos) Fail("bad chunking (harness bug)");
    if (len == 0) {
      // Detached ArrayBuffers reach the core as (nullptr, 0).
      p.Update(pos % 2 ? nullptr : in + pos, 0, &run.out);
      continue;
    }
    std::unique_ptr<uint8_t[]> copy(new uint8_t[len]);
    std::memcpy(copy.get(), in + pos, len);
    p.Update(copy.get(), len, &run.out);
    std::memset(copy.get(), 0xA5, len);
    pos += len;
  }
  if (pos != n) Fail("chunking covers %zu of %zu bytes (harness bug)", pos, n);
  p.Finish(&run.out, &run.digests);
  if (run.out[0] != 0xde || run.out[1] != 0xad) Fail("%sUpdate/Finish cleared or overwrote *out", what);
  run.out.erase(run.out.begin(), run.out.begin() + 2);
  return run;
}

Run RunPipeline(const uint8_t* in, size_t n, int level, const Chunking& chunks, int threads) {
  const auto mode = level == kNone ? fastlayer::Mode::kNone : fastlayer::Mode::kGzip;
  fastlayer::Pipeline p(level == kNone ? 1 : level, mode, threads);
  Run run = FeedAndFinish(p, in, n, chunks, "");
  // Finished pipelines refuse more work.
  bool threw = false;
  try {
    p.Update(in, 0, &run.out);
  } catch (const std::logic_error&) {
    threw = true;
  }
  if (!threw) Fail("Update after Finish did not throw std::logic_error");
  threw = false;
  fastlayer::Digests again;
  try {
    p.Finish(&run.out, &again);
  } catch (const std::logic_error&) {
    threw = true;
  }
  if (!threw) Fail("Finish after Finish did not throw std::logic_error");
  return run;
}

void VerifyRun(const uint8_t* in, size_t n, int level, const Run& run, const char* context, bool models) {
  const auto diff_id = RefSha256(in, n);
  const auto digest = RefSha256(run.out.data(), run.out.size());
  const auto& d = run.digests;
  const char* lv = LevelName(level);
  if (std::memcmp(d.diff_id, diff_id.data(), 32) != 0)
    Fail("%s level %s n=%zu: diffID %s, reference %s", context, lv, n, Hex(d.diff_id, 32).c_str(),
         Hex(diff_id.data(), 32).c_str());
  if (std::memcmp(d.digest, digest.data(), 32) != 0)
    Fail("%s level %s n=%zu: digest %s is not the SHA-256 of the output %s", context, lv, n,
         Hex(d.digest, 32).c_str(), Hex(digest.data(), 32).c_str());
  if (d.size != run.out.size())
    Fail("%s level %s n=%zu: size %llu, output has %zu bytes", context, lv, n,
         static_cast<unsigned long long>(d.size), run.out.size());
  if (level == kNone) {
    if (run.out.size() != n || (n > 0 && std::memcmp(run.out.data(), in, n) != 0))
      Fail("%s level none n=%zu: output is not the input", context, n);
    return;
  }
  const std::string problem = CheckMember(in, n, run.out, kBlockSize, level != 0);
  if (!problem.empty()) Fail("%s level %s n=%zu: %s", context, lv, n, problem.c_str());
  if (models && (level == 0 || level >= 3)) {
    const auto model = level == 0 ? RefStoredMember(in, n, kBlockSize) : RefZlibMember(in, n, level, kBlockSize);
    if (model != run.out) {
      size_t i = 0;
      while (i < model.size() && i < run.out.size() && model[i] == run.out[i]) ++i;
      Fail("%s level %s n=%zu: bytes differ from the format v1 model at offset %zu (sizes %zu vs model %zu)",
           context, lv, n, i, run.out.size(), model.size());
    }
  }
}

void ExpectSameRun(const Run& a, const Run& b, const char* context) {
  if (a.out != b.out) {
    size_t i = 0;
    while (i < a.out.size() && i < b.out.size() && a.out[i] == b.out[i]) ++i;
    Fail("%s: output depends on chunking (first difference at offset %zu; sizes %zu, %zu)", context, i,
         a.out.size(), b.out.size());
  }
  if (std::memcmp(&a.digests, &b.digests, sizeof a.digests) != 0) Fail("%s: digests depend on chunking", context);
}

Chunking RandomChunking(Mulberry32& rng, size_t n, uint32_t style) {
  Chunking c;
  size_t pos = 0;
  auto push = [&](size_t len) {
    len = std::min(len, n - pos);
    c.push_back(len);
    pos += len;
  };
  switch (style % kChunkStyles) {
    case 0:
      push(n);
      break;
    case 1: {
      const size_t sizes[] = {1, 7, 4096, 65536, kBlockSize - 1, kBlockSize, kBlockSize + 1, (1u << 20) + 3};
      size_t size = sizes[rng.Next() % 8];
      while (n / size > 100000) size *= 7;  // keep ASan runs of big inputs bounded
      while (pos < n) push(size);
      break;
    }
    case 2:
      while (pos < n) push(rng.Next() % 8 == 0 ? 0 : rng.Next() % (2 * kBlockSize + 1));
      break;
    case 3: {
      const size_t cap = n > 300000 ? 65536 : 512;
      while (pos < n) push(rng.Next() % (cap + 1));
      break;
    }
    case 4:
      // Cuts at k*B-1, k*B, k*B+1, with an occasional empty chunk right on the boundary.
      while (pos < n) {
        const size_t next = (pos / kBlockSize + 1) * kBlockSize + (rng.Next() % 3) - size_t{1};
        push(next > pos ? next - pos : 1);
        if (rng.Next() % 4 == 0) push(0);
      }
      break;
    default:
      while (pos < n) push(rng.Next() % (size_t{1} << (rng.Next() % 22)));
      break;
  }
  if (c.empty() || rng.Next() % 16 == 0) c.push_back(0);  // a trailing empty chunk
  return c;
}

void CheckCase(const uint8_t* in, size_t n, int level, const std::vector<Chunking>& chunkings, const char* context) {
  const Run first = RunPipeline(in, n, level, chunkings.at(0));
  VerifyRun(in, n, level, first, context);
  for (size_t i = 1; i < chunkings.size(); ++i) {
    ExpectSameRun(first, RunPipeline(in, n, level, chunkings[i], 1 + static_cast<int>(i % 4)), context);
  }
  ExpectSameRun(first, RunPipeline(in, n, level, chunkings[0], 4), context);
  // Many threads: a window of 33 units in flight across calls, on up to 15 pool threads.
  ExpectSameRun(first, RunPipeline(in, n, level, chunkings.back(), 16), context);
}

FuzzCase DecodeFuzzInput(const uint8_t* data, size_t size) {
  constexpr size_t kHead = 9;
  uint8_t head[kHead] = {0};
  std::memcpy(head, data, std::min(size, kHead));
  const uint8_t* payload = size > kHead ? data + kHead : data + size;
  const size_t plen = size > kHead ? size - kHead : 0;
  const int level = head[0] % 11 == 10 ? kNone : head[0] % 11;
  const bool portable = head[1] & 1;
  const uint32_t style = (head[1] >> 1) & 7;
  const bool stretch = head[1] & 16;
  const bool vary = head[1] & 32;
  const uint32_t seed = head[2] | (head[3] << 8) | (head[4] << 16) | (uint32_t(head[5]) << 24);

  std::vector<uint8_t> input;
  if (stretch) {
    const long scaled = static_cast<long>((size_t{256} + head[6]) << (head[7] % 21) >> 8);
    const size_t target = static_cast<size_t>(std::max(0L, scaled + static_cast<int8_t>(head[8])));
    input.resize(target);
    for (size_t i = 0; i < target; ++i) {
      const uint8_t base = plen ? payload[i % plen] : 0;
      input[i] = static_cast<uint8_t>(base + (vary && plen ? (i / plen) * 31 : 0));
    }
  } else {
    input.assign(payload, payload + plen);
  }
  Mulberry32 rng(seed);
  std::vector<Chunking> chunkings{RandomChunking(rng, input.size(), style == 0 ? 5 : style), {input.size()}};
  return FuzzCase{std::move(input), level, portable, std::move(chunkings)};
}

void RunFuzzInput(const uint8_t* data, size_t size) {
  const FuzzCase c = DecodeFuzzInput(data, size);
  fastlayer::ForcePortableSha256(c.portable_sha256);
  CheckCase(c.input.data(), c.input.size(), c.level, c.chunkings, "fuzz");
  // A flush point somewhere in the input, chosen by its length and first bytes (deterministic).
  const size_t n = c.input.size();
  const size_t at = n == 0 ? 0 : (size > 2 ? data[2] | (size_t{data[size - 1]} << 8) | (n >> 3) * data[1] : n) % (n + 1);
  CheckFlush(c.input.data(), n, c.level, at, c.chunkings.at(0));
  fastlayer::ForcePortableSha256(false);
}

void CheckSha256Once(Mulberry32& rng, size_t max_len) {
  const size_t n = rng.Next() % (max_len + 1);
  std::vector<uint8_t> msg;
  GenRandom(rng.Next(), n, &msg);
  const auto want = RefSha256(msg.data(), n);
  // Default dispatch, the explicitly portable object, and the process-wide portable switch.
  for (int variant = 0; variant < 3; ++variant) {
    fastlayer::ForcePortableSha256(variant == 2);
    fastlayer::Sha256 h = variant == 1 ? fastlayer::Sha256(true) : fastlayer::Sha256();
    size_t pos = 0;
    while (pos < n) {
      const uint32_t pick = rng.Next() % 16;
      const size_t cap = pick == 0 ? 0 : pick < 9 ? 130 : n;  // empty, around one 64-byte block, any
      const size_t len = std::min<size_t>(n - pos, rng.Next() % (cap + 1));
      std::unique_ptr<uint8_t[]> copy(new uint8_t[len ? len : 1]);
      if (len) std::memcpy(copy.get(), msg.data() + pos, len);
      h.Update(len ? copy.get() : nullptr, len);
      pos += len;
    }
    uint8_t got[32];
    h.Final(got);
    if (std::memcmp(got, want.data(), 32) != 0)
      Fail("SHA-256 (variant %d, %s) of %zu bytes: %s, reference %s", variant, fastlayer::Sha256Implementation(), n,
           Hex(got, 32).c_str(), Hex(want.data(), 32).c_str());
  }
  fastlayer::ForcePortableSha256(false);
}

// Sha256::UpdateShared against the reference: n (1 to 3) streams over one message, fed in the same
// random pieces, each having hashed a prefix of its own first (the same length for all: the shared
// pass; or not: one after the other), and beside them another message of another length, offered
// from wherever it has got to (its own offset in a block) and finished alone.
void CheckSha256SharedOnce(Mulberry32& rng, size_t max_len) {
  const size_t n = 1 + rng.Next() % 3;
  const size_t len = rng.Next() % (max_len + 1);
  const size_t m = rng.Next() % (max_len + 1);
  const bool portable = rng.Next() % 4 == 0;
  const bool with_other = rng.Next() % 4 != 0;
  std::vector<uint8_t> msg, other;
  GenRandom(rng.Next(), len, &msg);
  GenRandom(rng.Next(), m, &other);
  // Each stream's own prefix: the same length for all (usually) or one of its own.
  const size_t skew = rng.Next() % 3 == 0 ? rng.Next() % 200 : 0;
  std::vector<std::vector<uint8_t>> prefixes(n);
  std::vector<fastlayer::Sha256> hs;
  for (size_t k = 0; k < n; k++) {
    hs.emplace_back(portable);
    const size_t own = rng.Next() % 8 == 0 ? rng.Next() % 200 : skew;
    GenRandom(rng.Next(), own, &prefixes[k]);
    hs[k].Update(prefixes[k].data(), own);
  }
  fastlayer::Sha256 ho(rng.Next() % 8 == 0 ? !portable : portable);
  const size_t other_skew = std::min<size_t>(m, rng.Next() % 2 == 0 ? 0 : rng.Next() % 64);
  ho.Update(other.data(), other_skew);
  size_t po = other_skew;
  fastlayer::Sha256* same[3] = {&hs[0], n > 1 ? &hs[1] : nullptr, n > 2 ? &hs[2] : nullptr};
  for (size_t pos = 0; pos < len;) {
    const uint32_t pick = rng.Next() % 8;
    const size_t cap = pick == 0 ? 0 : pick < 4 ? 300 : len;
    const size_t piece = std::min<size_t>(len - pos, rng.Next() % (cap + 1));
    const size_t offer = std::min<size_t>(m - po, rng.Next() % 2 == 0 ? m - po : rng.Next() % 400);
    const size_t took = fastlayer::Sha256::UpdateShared(same, n, msg.data() + pos, piece, with_other ? &ho : nullptr,
                                                        other.data() + po, offer);
    if (took > offer || (!with_other && took != 0)) Fail("SHA-256 shared took %zu of %zu bytes offered", took, offer);
    po += took;
    if (rng.Next() % 4 == 0) {
      const size_t alone = std::min<size_t>(m - po, rng.Next() % 100);
      ho.Update(other.data() + po, alone);
      po += alone;
    }
    pos += piece;
  }
  ho.Update(other.data() + po, m - po);
  for (size_t k = 0; k <= n; k++) {
    uint8_t got[32];
    std::array<uint8_t, 32> want;
    if (k < n) {
      hs[k].Final(got);
      std::vector<uint8_t> whole = prefixes[k];
      whole.insert(whole.end(), msg.begin(), msg.end());
      want = RefSha256(whole.data(), whole.size());
    } else {
      ho.Final(got);
      want = RefSha256(other.data(), m);
    }
    if (std::memcmp(got, want.data(), 32) != 0)
      Fail("SHA-256 shared (%s, %zu streams over %zu bytes, other %zu bytes): stream %zu is %s, reference %s",
           portable ? "portable" : fastlayer::Sha256Implementation(), n, len, m, k, Hex(got, 32).c_str(), Hex(want.data(), 32).c_str());
  }
}

}  // namespace reftest
