#include "ref_format.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

namespace reftest {
namespace {

constexpr uint8_t kHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
constexpr size_t kWindow = 32 * 1024;

void PutLe32(uint32_t v, std::vector<uint8_t>* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutTrailer(const uint8_t* in, size_t n, std::vector<uint8_t>* out) {
  PutLe32(RefCrc32(in, n), out);
  PutLe32(static_cast<uint32_t>(n), out);
}

std::string Describe(const char* what, size_t a, size_t b) {
  return std::string(what) + " (" + std::to_string(a) + " vs " + std::to_string(b) + ")";
}

}  // namespace

uint32_t RefCrc32(const uint8_t* data, size_t len) {
  static uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = true;
  }
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

std::vector<uint8_t> RefStoredMember(const uint8_t* in, size_t n, size_t block_size) {
  std::vector<uint8_t> out(kHeader, kHeader + 10);
  size_t pos = 0;
  for (;;) {
    const bool final_unit = n - pos < block_size;
    const size_t unit = final_unit ? n - pos : block_size;
    size_t done = 0;
    do {
      const size_t len = std::min<size_t>(unit - done, 65535);
      const bool last = final_unit && done + len == unit;
      out.push_back(last ? 1 : 0);
      out.push_back(static_cast<uint8_t>(len));
      out.push_back(static_cast<uint8_t>(len >> 8));
      out.push_back(static_cast<uint8_t>(~len));
      out.push_back(static_cast<uint8_t>(~len >> 8));
      out.insert(out.end(), in + pos + done, in + pos + done + len);
      done += len;
    } while (done < unit);
    pos += unit;
    if (final_unit) break;
  }
  PutTrailer(in, n, &out);
  return out;
}

std::vector<uint8_t> RefZlibMember(const uint8_t* in, size_t n, int level, size_t block_size) {
  std::vector<uint8_t> out(kHeader, kHeader + 10);
  z_stream s;
  std::memset(&s, 0, sizeof s);
  if (deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::vector<uint8_t> buf(deflateBound(&s, block_size) + 64);
  size_t pos = 0;
  for (;;) {
    const bool final_unit = n - pos < block_size;
    const size_t unit = final_unit ? n - pos : block_size;
    deflateReset(&s);
    const size_t dict = std::min(pos, kWindow);
    if (dict > 0) deflateSetDictionary(&s, in + pos - dict, static_cast<uInt>(dict));
    s.next_in = const_cast<Bytef*>(in + pos);
    s.avail_in = static_cast<uInt>(unit);
    int rc;
    do {
      s.next_out = buf.data();
      s.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&s, final_unit ? Z_FINISH : Z_SYNC_FLUSH);
      out.insert(out.end(), buf.data(), buf.data() + (buf.size() - s.avail_out));
    } while (final_unit ? rc == Z_OK : s.avail_out == 0);
    pos += unit;
    if (final_unit) break;
  }
  deflateEnd(&s);
  PutTrailer(in, n, &out);
  return out;
}

std::string CheckMember(const uint8_t* in, size_t n, const std::vector<uint8_t>& out, size_t block_size,
                        bool sync_markers) {
  if (out.size() < 10 + 2 + 8) return Describe("output too short for a gzip member", out.size(), 20);
  if (std::memcmp(out.data(), kHeader, 10) != 0) return "gzip header differs from format v1";
  const size_t nfull = n / block_size;
  // Offsets (into out) where unit k starts; unit 0 starts right after the header.
  std::vector<size_t> starts(nfull + 1, 0);
  starts[0] = 10;
  std::vector<bool> found(nfull + 1, false);
  found[0] = true;

  std::vector<uint8_t> dec(n + 1);
  z_stream s;
  std::memset(&s, 0, sizeof s);
  inflateInit2(&s, -15);
  s.next_in = const_cast<Bytef*>(out.data() + 10);
  s.avail_in = static_cast<uInt>(out.size() - 10);
  s.next_out = dec.data();
  s.avail_out = static_cast<uInt>(dec.size());
  int rc;
  for (;;) {
    rc = inflate(&s, Z_BLOCK);
    if (rc != Z_OK) break;
    const size_t at = out.size() - s.avail_in;
    // A sync flush ends with the bytes 00 00 ff ff of an empty stored block, byte aligned.
    // Stops after the final block (data_type bit 64) are the end of the stream, not a boundary.
    if ((s.data_type & 128) && !(s.data_type & 64) && (s.data_type & 7) == 0 && s.total_out % block_size == 0 &&
        s.total_out > 0 && s.total_out / block_size <= nfull && at >= 14 &&
        (!sync_markers || std::memcmp(out.data() + at - 4, "\x00\x00\xff\xff", 4) == 0)) {
      const size_t k = s.total_out / block_size;
      // Keep the last one: the sync marker follows any deflate block that happens to end there.
      starts[k] = at;
      found[k] = true;
    }
    if (s.avail_in == 0) break;
  }
  const size_t produced = s.total_out;
  const size_t deflate_end = out.size() - s.avail_in;
  inflateEnd(&s);
  if (rc != Z_STREAM_END) return "deflate stream does not end (inflate rc " + std::to_string(rc) + ")";
  if (produced != n) return Describe("inflated length differs from input", produced, n);
  if (n > 0 && std::memcmp(dec.data(), in, n) != 0) return "inflated bytes differ from input";
  if (out.size() - deflate_end != 8) return Describe("bytes after the deflate stream", out.size() - deflate_end, 8);
  std::vector<uint8_t> trailer;
  PutTrailer(in, n, &trailer);
  if (std::memcmp(out.data() + deflate_end, trailer.data(), 8) != 0) return "gzip trailer (CRC-32/ISIZE) is wrong";
  for (size_t k = 1; k <= nfull; ++k)
    if (!found[k]) return std::string("no byte-aligned ") + (sync_markers ? "sync flush" : "block boundary") +
                          " after full block " + std::to_string(k);

  // Each unit must decode alone: fresh inflater, preset dictionary = previous 32 KiB of input.
  for (size_t k = 0; k <= nfull; ++k) {
    const size_t from = starts[k];
    const size_t to = k < nfull ? starts[k + 1] : deflate_end;
    const size_t ipos = k * block_size;
    const size_t ilen = k < nfull ? block_size : n - ipos;
    if (to < from) return "unit boundaries out of order at block " + std::to_string(k);
    std::memset(&s, 0, sizeof s);
    inflateInit2(&s, -15);
    const size_t dict = std::min(ipos, kWindow);
    if (dict > 0) inflateSetDictionary(&s, in + ipos - dict, static_cast<uInt>(dict));
    s.next_in = const_cast<Bytef*>(out.data() + from);
    s.avail_in = static_cast<uInt>(to - from);
    s.next_out = dec.data();
    s.avail_out = static_cast<uInt>(ilen + 1);
    do rc = inflate(&s, Z_NO_FLUSH); while (rc == Z_OK && s.avail_in > 0);
    const size_t got = s.total_out;
    inflateEnd(&s);
    const bool last = k == nfull;
    if (last ? rc != Z_STREAM_END : (rc != Z_OK && rc != Z_BUF_ERROR))
      return "block " + std::to_string(k) + " does not decode alone (rc " + std::to_string(rc) + ")";
    if (got != ilen || (ilen > 0 && std::memcmp(dec.data(), in + ipos, ilen) != 0))
      return "block " + std::to_string(k) + " decodes alone to the wrong bytes";
  }
  return "";
}

}  // namespace reftest
