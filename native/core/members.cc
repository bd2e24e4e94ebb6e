#include "members.h"

#include <isa-l.h>

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#if defined(__unix__) || defined(__APPLE__)
#include <time.h>
#endif

#include "block_pool.h"
#include "deflate.h"
#include "format.h"
#include "pipeline.h"

namespace fastlayer {
namespace {

// The calling thread's CPU seconds, where the system tells them (else the steady clock's): a stage's
// turn is counted by what it costs, not by how long a small machine kept its thread waiting for a
// core (which many cores would not).
double ThreadSeconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void PutLe32(uint32_t v, std::vector<uint8_t>* out) {
  for (int i = 0; i < 4; i++) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// The layout Pipeline gives one input: full units non-final, each with the 32 KiB before it as its
// dictionary, then the final unit of the remainder (empty when the input is a multiple of a unit).
// Unit u of a member of len bytes (u in 0..len / kBlockSize), appended to *out.
void CompressUnit(Deflater* d, const uint8_t* p, size_t len, size_t u, std::vector<uint8_t>* out) {
  const size_t full = len / kBlockSize;
  const uint8_t* dict = u == 0 ? nullptr : p + u * kBlockSize - kWindowSize;
  const size_t dict_len = u == 0 ? 0 : kWindowSize;
  if (u < full) {
    d->Deflate(dict, dict_len, p + u * kBlockSize, kBlockSize, false, out);
  } else {
    const size_t rest = len - full * kBlockSize;
    d->Deflate(dict, dict_len, rest == 0 ? nullptr : p + full * kBlockSize, rest, true, out);
  }
}

void PutTrailer(const uint8_t* p, size_t len, std::vector<uint8_t>* out) {
  PutLe32(len == 0 ? 0 : crc32_gzip_refl(0, p, len), out);
  PutLe32(static_cast<uint32_t>(len), out);
}

void HashPrefix(const uint8_t* p, size_t len, size_t hash_len, uint8_t* digest) {
  Sha256 sha;
  sha.Update(p, std::min(hash_len, len));
  sha.Final(digest);
}

// Compressors outlive the calls: making one costs more than compressing a small file (ISA-L's level
// buffers), so a call takes its compressors from here and gives them back (a compressor resets its
// state on every unit). At most kMaxThreads kept per level; never freed, so a call still running on
// some thread at exit cannot meet a destroyed cache.
class DeflaterCache {
 public:
  std::unique_ptr<Deflater> Take(int level) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto& kept = kept_[level];
      if (!kept.empty()) {
        std::unique_ptr<Deflater> d = std::move(kept.back());
        kept.pop_back();
        return d;
      }
    }
    return NewDeflater(level);
  }
  void Give(int level, std::unique_ptr<Deflater> d) {
    std::lock_guard<std::mutex> lock(mu_);
    if (kept_[level].size() < static_cast<size_t>(kMaxThreads)) kept_[level].push_back(std::move(d));
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<Deflater>> kept_[10];
};

DeflaterCache& Cache() {
  static DeflaterCache* cache = new DeflaterCache;
  return *cache;
}

// One piece of a call's work: a whole member of one unit (compressed, trailer, digest), or, for a
// member of several units, one of its units or (unit == kMeta) its CRC and digest.
struct Item {
  static constexpr size_t kMeta = SIZE_MAX;
  size_t member;
  size_t unit;
};

}  // namespace

void GzipMembers(int level, const uint8_t* data, const std::vector<size_t>& sizes,
                 const std::vector<size_t>& hash_lens, size_t helpers,
                 std::vector<std::vector<uint8_t>>* outs, std::vector<uint8_t>* digests) {
  const size_t n = sizes.size();
  std::vector<const uint8_t*> starts(n);
  std::vector<Item> items;
  // Units of a large member land here and are joined once all are done; a member of one unit is
  // written straight into its output.
  std::vector<std::vector<std::vector<uint8_t>>> units(n);
  std::vector<uint32_t> crcs(n);
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    starts[i] = data + at;
    at += sizes[i];
    const size_t count = sizes[i] / kBlockSize + 1;
    if (count == 1) {
      items.push_back({i, 0});
      continue;
    }
    units[i].resize(count);
    items.push_back({i, Item::kMeta});
    for (size_t u = 0; u < count; u++) items.push_back({i, u});
  }
  outs->assign(n, {});
  if (digests != nullptr) digests->assign(32 * n, 0);
  if (level < 0 || level > 9) throw std::invalid_argument("fastlayer: compression level must be an integer from 0 to 9");
  // One compressor per thread number (0 is the caller, 1..kMaxThreads-1 the pool), taken on first use.
  std::vector<std::unique_ptr<Deflater>> deflaters(kMaxThreads);
  deflaters[0] = Cache().Take(level);  // throws here, on the caller, for a bad CPU
  RunUnits(
      items.size(), helpers,
      [&](size_t k, size_t thread) {
        const Item item = items[k];
        const size_t i = item.member;
        const uint8_t* p = starts[i];
        const size_t len = sizes[i];
        if (item.unit == Item::kMeta) {
          crcs[i] = len == 0 ? 0 : crc32_gzip_refl(0, p, len);
          if (digests != nullptr) HashPrefix(p, len, hash_lens[i], digests->data() + 32 * i);
          return;
        }
        auto& owned = deflaters[thread];
        if (!owned) owned = Cache().Take(level);
        Deflater* d = owned.get();
        if (!units[i].empty()) {
          units[i][item.unit].reserve(kBlockSize / 2);
          CompressUnit(d, p, len, item.unit, &units[i][item.unit]);
          return;
        }
        std::vector<uint8_t>* out = &(*outs)[i];
        out->reserve(len / 2 + 64);
        out->insert(out->end(), kGzipHeader, kGzipHeader + sizeof(kGzipHeader));
        CompressUnit(d, p, len, 0, out);
        PutTrailer(p, len, out);
        if (digests != nullptr) HashPrefix(p, len, hash_lens[i], digests->data() + 32 * i);
      },
      [] {});
  for (auto& d : deflaters) {
    if (d) Cache().Give(level, std::move(d));
  }
  for (size_t i = 0; i < n; i++) {
    if (units[i].empty()) continue;
    size_t total = sizeof(kGzipHeader) + 8;
    for (const auto& u : units[i]) total += u.size();
    std::vector<uint8_t>* out = &(*outs)[i];
    out->reserve(total);
    out->insert(out->end(), kGzipHeader, kGzipHeader + sizeof(kGzipHeader));
    for (auto& u : units[i]) {
      out->insert(out->end(), u.begin(), u.end());
      std::vector<uint8_t>().swap(u);
    }
    PutLe32(crcs[i], out);
    PutLe32(static_cast<uint32_t>(sizes[i]), out);
  }
}

void CheckMembersLevel(int level) {
  if (level < 0 || level > 9) throw std::invalid_argument("fastlayer: compression level must be an integer from 0 to 9");
  if ((level == 1 || level == 2) && !IsalCpuSupported()) NewIsalDeflater(level);  // throws UnsupportedCpu
}

uint64_t MemberDigests::Take(const std::vector<uint8_t>& marks) {
  std::lock_guard<std::mutex> lock(mu_);
  bool open = planned_open_;
  for (const uint8_t m : marks) {
    // A first chunk needs no open file; a middle or last one needs one; nothing else may come between.
    const bool ok = m == kNoFile ? !open : m == kFileFirst ? !open : (m == kFileMiddle || m == kFileLast) && open;
    if (!ok) throw std::invalid_argument("fastlayer: a file's chunk marks are out of order");
    open = m == kFileFirst || m == kFileMiddle;
  }
  planned_open_ = open;
  return issued_++;
}

void MemberDigests::PassTurn(Stage* stage) {
  stage->next++;
  for (auto it = stage->skipped.begin(); it != stage->skipped.end() && *it == stage->next; it = stage->skipped.erase(it)) {
    stage->next++;
  }
  turn_.notify_all();
}

double MemberDigests::AwaitTurn(Stage* stage, uint64_t ticket) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    turn_.wait(lock, [&] { return stage->next == ticket; });
  }
  // Until EndTurn no other call touches this stage's hashes: every later ticket waits above.
  return ThreadSeconds();
}

void MemberDigests::EndTurn(Stage* stage, double started) {
  const double took = ThreadSeconds() - started;
  std::lock_guard<std::mutex> lock(mu_);
  stage->seconds += took;
  PassTurn(stage);
}

void MemberDigests::Add(uint64_t ticket, const uint8_t* in, size_t len, const std::vector<std::vector<uint8_t>>& outs) {
  auto started = AwaitTurn(&input_, ticket);
  diff_.Update(in, len);
  EndTurn(&input_, started);
  started = AwaitTurn(&output_, ticket);
  for (const auto& o : outs) blob_.Update(o.data(), o.size());
  EndTurn(&output_, started);
}

void MemberDigests::Add(uint64_t ticket, const uint8_t* in, const std::vector<size_t>& sizes,
                        const std::vector<size_t>& hash_lens, const std::vector<uint8_t>& marks,
                        const std::vector<std::vector<uint8_t>>& outs, std::vector<uint8_t>* digests) {
  const size_t files = static_cast<size_t>(std::count(marks.begin(), marks.end(), kFileLast));
  try {
    digests->assign(32 * (sizes.size() + files), 0);
  } catch (...) {
    Skip(ticket);
    throw;
  }
  uint8_t* file_digest = digests->data() + 32 * sizes.size();
  auto started = AwaitTurn(&input_, ticket);
  const uint8_t* p = in;
  for (size_t i = 0; i < sizes.size(); i++) {
    const size_t prefix = std::min(hash_lens[i], sizes[i]);
    const uint8_t mark = marks.empty() ? uint8_t{kNoFile} : marks[i];
    if (mark == kFileFirst) file_ = Sha256();
    Sha256 chunk;
    // The streams over the prefix: the diffID, the chunk, and its file where the file is at the
    // chunk's offset within a block (a chunk size that is a multiple of 64, as every default is).
    // With SHA-NI a second and third stream cost next to nothing: the rounds of one stream wait on
    // each other, and the others' fill the gaps.
    Sha256* same[3] = {&diff_, &chunk, &file_};
    size_t n = 2;
    if (mark != kNoFile) {
      if (file_.BlockOffset() == chunk.BlockOffset()) {
        n = 3;
      } else {
        file_.Update(p, prefix);
      }
    }
    Sha256::UpdateShared(same, n, p, prefix, nullptr, nullptr, 0);
    diff_.Update(p + prefix, sizes[i] - prefix);
    chunk.Final(digests->data() + 32 * i);
    if (mark == kFileLast) {
      file_.Final(file_digest);
      file_digest += 32;
    }
    p += sizes[i];
  }
  EndTurn(&input_, started);
  // The blob's own stage: the next call hashes its input meanwhile.
  started = AwaitTurn(&output_, ticket);
  for (const auto& o : outs) blob_.Update(o.data(), o.size());
  EndTurn(&output_, started);
}

void MemberDigests::Skip(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  broken_ = true;
  for (Stage* stage : {&input_, &output_}) {
    if (ticket == stage->next) {
      PassTurn(stage);
    } else if (ticket > stage->next) {
      stage->skipped.insert(ticket);
    }
  }
}

MemberDigests::Busy MemberDigests::HashSeconds() {
  std::lock_guard<std::mutex> lock(mu_);
  return {input_.seconds, output_.seconds};
}

bool MemberDigests::Finish(const uint8_t* tail, size_t tail_len, uint8_t blob[32], uint8_t diff[32]) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_ || finished_ || input_.next != issued_ || output_.next != issued_ || planned_open_) return false;
  finished_ = true;
  blob_.Update(tail, tail_len);
  blob_.Final(blob);
  diff_.Final(diff);
  return true;
}

}  // namespace fastlayer
