// Flush points (Pipeline::Flush, zlib's Z_SYNC_FLUSH): the input with one flush at `at`, fed in
// `chunks`. Judged without the core: the output up to the flush must inflate (zlib, sync-flush mode)
// to the input before it; the whole output must be one gzip member of the input whose digest, diffID
// and size match; the same flush point on 4 threads must give the same bytes.
#include <zlib.h>

#include <cstring>
#include <vector>

#include "harness.h"
#include "ref_sha256.h"

namespace reftest {
namespace {

// Inflates a gzip prefix that ends on a sync flush point; Fail()s on a stream error.
std::vector<uint8_t> InflatePrefix(const std::vector<uint8_t>& gz, size_t from, size_t to, bool* ended) {
  z_stream s{};
  if (inflateInit2(&s, 16 + 15) != Z_OK) Fail("flush: inflateInit2");
  std::vector<uint8_t> plain;
  s.next_in = const_cast<Bytef*>(gz.data() + from);
  s.avail_in = static_cast<uInt>(to - from);
  int rc = Z_OK;
  uint8_t buf[65536];
  do {
    s.next_out = buf;
    s.avail_out = sizeof(buf);
    rc = inflate(&s, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) Fail("flush: inflate error %d", rc);
    plain.insert(plain.end(), buf, buf + (sizeof(buf) - s.avail_out));
  } while (rc == Z_OK && (s.avail_in > 0 || s.avail_out == 0));
  *ended = rc == Z_STREAM_END;
  inflateEnd(&s);
  return plain;
}

Run FlushRun(const uint8_t* in, int level, size_t at, const Chunking& chunks, int threads,
             size_t* flushed_end) {
  fastlayer::Pipeline p(level, fastlayer::Mode::kGzip, threads);
  Run run;
  run.out = {0xde, 0xad};  // the core must append, never clear
  size_t pos = 0;
  bool flushed = false;
  for (size_t len : chunks) {
    // The flush point cuts the chunk it falls in, so every position is reachable.
    if (!flushed && at >= pos && at <= pos + len) {
      p.Update(in + pos, at - pos, &run.out);
      p.Flush(&run.out);
      p.Flush(&run.out);  // twice in a row: the second adds nothing
      *flushed_end = run.out.size();
      flushed = true;
      p.Update(in + at, pos + len - at, &run.out);
    } else {
      p.Update(in + pos, len, &run.out);
    }
    pos += len;
  }
  if (!flushed) {  // no chunks (empty input)
    p.Flush(&run.out);
    *flushed_end = run.out.size();
  }
  p.Finish(&run.out, &run.digests);
  bool threw = false;
  try {
    p.Flush(&run.out);
  } catch (const std::logic_error&) {
    threw = true;
  }
  if (!threw) Fail("flush: Flush after Finish did not throw std::logic_error");
  run.out.erase(run.out.begin(), run.out.begin() + 2);
  *flushed_end -= 2;
  return run;
}

}  // namespace

void CheckFlush(const uint8_t* in, size_t n, int level, size_t at, const Chunking& chunks) {
  if (level == kNone) return;  // 'none' holds nothing back: its flush is a no-op
  size_t end = 0;
  const Run run = FlushRun(in, level, at, chunks, 1, &end);
  bool ended = false;
  const std::vector<uint8_t> prefix = InflatePrefix(run.out, 0, end, &ended);
  if (prefix.size() != at || (at > 0 && std::memcmp(prefix.data(), in, at) != 0) || ended) {
    Fail("flush at %zu of %zu (level %d): the output so far inflates to %zu bytes", at, n, level, prefix.size());
  }
  const std::vector<uint8_t> all = InflatePrefix(run.out, 0, run.out.size(), &ended);
  if (!ended || all.size() != n || (n > 0 && std::memcmp(all.data(), in, n) != 0)) {
    Fail("flush at %zu of %zu (level %d): the member does not inflate to the input", at, n, level);
  }
  const auto digest = RefSha256(run.out.data(), run.out.size());
  const auto diff_id = RefSha256(in, n);
  if (std::memcmp(digest.data(), run.digests.digest, 32) != 0 || std::memcmp(diff_id.data(), run.digests.diff_id, 32) != 0 ||
      run.digests.size != run.out.size()) {
    Fail("flush at %zu of %zu (level %d): digest, diffID or size wrong", at, n, level);
  }
  size_t end4 = 0;
  const Run four = FlushRun(in, level, at, chunks, 4, &end4);
  if (four.out != run.out || end4 != end) Fail("flush at %zu of %zu (level %d): 4 threads differ", at, n, level);
}

}  // namespace reftest
