#include "members.h"

#include <isa-l.h>

#include <algorithm>
#include <memory>

#include "block_pool.h"
#include "deflate.h"
#include "format.h"
#include "pipeline.h"
#include "sha256.h"

namespace fastlayer {
namespace {

void PutLe32(uint32_t v, std::vector<uint8_t>* out) {
  for (int i = 0; i < 4; i++) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// The layout Pipeline gives one input: full units non-final, each with the 32 KiB before it as its
// dictionary, then the final unit of the remainder (empty when the input is a multiple of a unit).
void CompressMember(Deflater* d, const uint8_t* p, size_t len, std::vector<uint8_t>* out) {
  out->reserve(len / 2 + 4096);
  out->insert(out->end(), kGzipHeader, kGzipHeader + sizeof(kGzipHeader));
  const size_t full = len / kBlockSize;
  const uint8_t* dict = nullptr;
  size_t dict_len = 0;
  for (size_t u = 0; u < full; u++) {
    d->Deflate(dict, dict_len, p + u * kBlockSize, kBlockSize, false, out);
    dict = p + (u + 1) * kBlockSize - kWindowSize;
    dict_len = kWindowSize;
  }
  const size_t rest = len - full * kBlockSize;
  d->Deflate(dict, dict_len, rest == 0 ? nullptr : p + full * kBlockSize, rest, true, out);
  PutLe32(len == 0 ? 0 : crc32_gzip_refl(0, p, len), out);
  PutLe32(static_cast<uint32_t>(len), out);
}

}  // namespace

void GzipMembers(int level, const uint8_t* data, const std::vector<size_t>& sizes,
                 const std::vector<size_t>& hash_lens, size_t helpers,
                 std::vector<std::vector<uint8_t>>* outs, std::vector<uint8_t>* digests) {
  std::vector<const uint8_t*> starts(sizes.size());
  size_t at = 0;
  for (size_t i = 0; i < sizes.size(); i++) {
    starts[i] = data + at;
    at += sizes[i];
  }
  outs->assign(sizes.size(), {});
  digests->assign(32 * sizes.size(), 0);
  // One compressor per thread number (0 is the caller, 1..kMaxThreads-1 the pool), made on first use.
  std::vector<std::unique_ptr<Deflater>> deflaters(kMaxThreads);
  deflaters[0] = NewDeflater(level);  // throws here, on the caller, for a bad level or CPU
  RunUnits(
      sizes.size(), helpers,
      [&](size_t i, size_t thread) {
        auto& d = deflaters[thread];
        if (!d) d = NewDeflater(level);
        CompressMember(d.get(), starts[i], sizes[i], &(*outs)[i]);
        Sha256 sha;
        sha.Update(starts[i], std::min(hash_lens[i], sizes[i]));
        sha.Final(digests->data() + 32 * i);
      },
      [] {});
}

}  // namespace fastlayer
