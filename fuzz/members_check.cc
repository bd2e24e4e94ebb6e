#include "members_check.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "format.h"
#include "gen.h"
#include "members.h"
#include "harness.h"
#include "ref_sha256.h"

namespace reftest {
namespace {

struct Call {
  std::vector<uint8_t> in;  // the members end to end
  std::vector<size_t> sizes;
  std::vector<size_t> hash_lens;
  std::vector<uint8_t> marks;  // FileMark per member, or empty
  std::vector<std::vector<uint8_t>> outs;
  std::vector<uint8_t> digests;
};

size_t MemberSize(Mulberry32& rng) {
  switch (rng.Next() % 6) {
    case 0: return 0;
    case 1: return rng.Next() % 64;
    case 2: return rng.Next() % 20000;
    case 3: return fastlayer::kBlockSize - 1 + rng.Next() % 3;  // around one unit
    case 4: return fastlayer::kBlockSize * (1 + rng.Next() % 3) + rng.Next() % 5000;
    default: return rng.Next() % 200000;
  }
}

// Runs of a few repeated bytes between random ones: compressible, and different at every level.
void Fill(Mulberry32& rng, size_t n, std::vector<uint8_t>* m) {
  m->resize(n);
  for (size_t i = 0; i < n;) {
    const uint32_t r = rng.Next();
    const size_t run = std::min<size_t>(n - i, 1 + (r >> 24) % 40);
    const bool random = (r & 3) == 0;
    for (size_t k = 0; k < run; k++) (*m)[i + k] = static_cast<uint8_t>(random ? rng.Next() : 'a' + (r >> 8) % 4);
    i += run;
  }
}

Call MakeCall(Mulberry32& rng) {
  Call c;
  const size_t members = 1 + rng.Next() % 6;
  for (size_t i = 0; i < members; i++) {
    std::vector<uint8_t> m;
    Fill(rng, MemberSize(rng), &m);
    c.sizes.push_back(m.size());
    c.hash_lens.push_back(m.empty() ? 0 : rng.Next() % (m.size() + 1));
    c.in.insert(c.in.end(), m.begin(), m.end());
  }
  return c;
}

// Marks files of several chunks over the members of all calls in order (chosen from the member
// count alone, so a seed's runs stay what they were): some span calls, every one ends in the run.
void MarkFiles(std::vector<Call>* calls) {
  size_t total = 0;
  for (const auto& c : *calls) total += c.sizes.size();
  std::vector<uint8_t> marks(total, fastlayer::kNoFile);
  for (size_t i = 1; i + 1 < total;) {
    const size_t len = std::min<size_t>(2 + i % 3, total - i);
    if (len < 2) break;
    marks[i] = fastlayer::kFileFirst;
    for (size_t k = 1; k + 1 < len; k++) marks[i + k] = fastlayer::kFileMiddle;
    marks[i + len - 1] = fastlayer::kFileLast;
    i += len + 1;
  }
  size_t at = 0;
  for (auto& c : *calls) {
    c.marks.assign(marks.begin() + at, marks.begin() + at + c.sizes.size());
    // Chunks before a file's last one are mostly whole blocks, as eStargz's are: the file then
    // shares the diffID's and the chunk's pass (one in four keeps its odd length: the other path).
    for (size_t i = 0; i < c.marks.size(); i++) {
      const uint8_t m = c.marks[i];
      if ((m == fastlayer::kFileFirst || m == fastlayer::kFileMiddle) && (at + i) % 4 != 0) c.hash_lens[i] -= c.hash_lens[i] % 64;
    }
    at += c.sizes.size();
  }
}

// Each file's digest (the SHA-256 of its members' prefixes in order) against the reference.
void CheckFiles(const std::vector<Call>& calls, const std::string& context) {
  std::vector<uint8_t> file;
  size_t files = 0;
  for (size_t k = 0; k < calls.size(); k++) {
    const Call& c = calls[k];
    size_t at = 0;
    size_t ended = 0;
    for (size_t i = 0; i < c.marks.size(); i++) {
      if (c.marks[i] == fastlayer::kFileFirst) file.clear();
      if (c.marks[i] != fastlayer::kNoFile) file.insert(file.end(), c.in.begin() + at, c.in.begin() + at + std::min(c.hash_lens[i], c.sizes[i]));
      if (c.marks[i] == fastlayer::kFileLast) {
        const auto d = RefSha256(file.data(), file.size());
        const size_t off = 32 * (c.sizes.size() + ended);
        if (c.digests.size() < off + 32 || !std::equal(d.begin(), d.end(), c.digests.begin() + off))
          Fail("%s: call %zu, the digest of the file ending at member %zu (%zu bytes)", context.c_str(), k, i, file.size());
        ended++;
        files++;
      }
      at += c.sizes[i];
    }
    if (c.digests.size() != 32 * (c.sizes.size() + ended)) Fail("%s: call %zu has %zu digest bytes", context.c_str(), k, c.digests.size());
  }
  (void)files;
}

void CheckCall(const Call& c, int level, const std::string& context) {
  size_t at = 0;
  for (size_t i = 0; i < c.sizes.size(); i++) {
    const uint8_t* p = c.in.data() + at;
    const Run ref = RunPipeline(p, c.sizes[i], level, {c.sizes[i]});
    if (c.outs[i] != ref.out) Fail("%s: member %zu (%zu bytes) differs from a Pipeline's bytes", context.c_str(), i, c.sizes[i]);
    const auto d = RefSha256(p, c.hash_lens[i]);
    if (!std::equal(d.begin(), d.end(), c.digests.begin() + 32 * i)) Fail("%s: member %zu prefix digest", context.c_str(), i);
    at += c.sizes[i];
  }
}

}  // namespace

void MembersRandomRuns(uint32_t seed, double seconds) {
  // Marks that do not go on from the calls before are refused without a ticket.
  {
    fastlayer::MemberDigests d;
    const std::vector<std::vector<uint8_t>> bad = {{fastlayer::kFileMiddle}, {fastlayer::kFileLast}, {fastlayer::kFileFirst, fastlayer::kNoFile},
                                                   {fastlayer::kFileFirst, fastlayer::kFileFirst}, {4}};
    for (const auto& m : bad) {
      bool refused = false;
      try {
        d.Take(m);
      } catch (const std::invalid_argument&) {
        refused = true;
      }
      if (!refused) Fail("members: marks out of order were taken");
    }
    if (d.Take({fastlayer::kFileFirst}) != 0) Fail("members: a refused Take used a ticket");
    uint8_t blob[32], diff[32];
    d.Add(0, nullptr, 0, {});
    if (d.Finish(nullptr, 0, blob, diff)) Fail("members: Finish succeeded with a file left open");
  }
  Mulberry32 rng(seed);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  size_t runs = 0, calls_made = 0;
  do {
    const int level = static_cast<int>(rng.Next() % 10);
    const std::string context = "members seed " + std::to_string(seed) + " run " + std::to_string(runs) + " level " + LevelName(level);
    std::vector<Call> calls(2 + rng.Next() % 4);
    for (auto& c : calls) c = MakeCall(rng);
    // One ticket skipped in some runs, as a call that failed or never ran.
    size_t skip = rng.Next() % 3 == 0 ? rng.Next() % calls.size() : calls.size();
    // Every third run marks files of several chunks across its calls (as eStargz's large files): all
    // its calls hash in Add, and none is skipped (a file's digest then spans the calls).
    const bool files = runs % 3 == 2;
    if (files) {
      MarkFiles(&calls);
      skip = calls.size();
    }
    fastlayer::MemberDigests digests;
    std::vector<uint64_t> tickets;
    for (size_t i = 0; i < calls.size(); i++) tickets.push_back(digests.Take(calls[i].marks));
    const size_t helpers = rng.Next() % 4;
    // Some calls take their prefix digests in Add's pass with the diffID (as the addon does), the
    // others in GzipMembers; both must give the reference digests.
    // (Chosen without rng, so a seed's runs stay what they were.)
    std::vector<bool> in_add;
    for (size_t i = 0; i < calls.size(); i++) in_add.push_back(files || (i + runs) % 2 == 0);
    // Started last first, so later tickets usually finish first and must wait for their turn.
    std::vector<std::thread> threads;
    for (size_t k = calls.size(); k-- > 0;) {
      threads.emplace_back([&, k] {
        Call& c = calls[k];
        const bool add_hashes = in_add[k] && k != skip;
        fastlayer::GzipMembers(level, c.in.data(), c.sizes, c.hash_lens, helpers, &c.outs, add_hashes ? nullptr : &c.digests);
        if (k == skip) {
          digests.Skip(tickets[k]);
        } else if (add_hashes) {
          digests.Add(tickets[k], c.in.data(), c.sizes, c.hash_lens, c.marks, c.outs, &c.digests);
        } else {
          digests.Add(tickets[k], c.in.data(), c.in.size(), c.outs);
        }
      });
    }
    for (auto& t : threads) t.join();
    if (files) CheckFiles(calls, context);
    std::vector<uint8_t> all_in, all_out;
    for (const auto& c : calls) {
      CheckCall(c, level, context);
      all_in.insert(all_in.end(), c.in.begin(), c.in.end());
      for (const auto& o : c.outs) all_out.insert(all_out.end(), o.begin(), o.end());
    }
    const uint8_t tail[3] = {1, 2, 3};
    all_out.insert(all_out.end(), tail, tail + 3);
    uint8_t blob[32], diff[32];
    const bool ok = digests.Finish(tail, 3, blob, diff);
    if (skip < calls.size()) {
      if (ok) Fail("%s: Finish succeeded with ticket %zu skipped", context.c_str(), skip);
    } else {
      if (!ok) Fail("%s: Finish refused", context.c_str());
      const auto want_blob = RefSha256(all_out.data(), all_out.size());
      const auto want_diff = RefSha256(all_in.data(), all_in.size());
      if (!std::equal(want_blob.begin(), want_blob.end(), blob)) Fail("%s: blob digest out of order", context.c_str());
      if (!std::equal(want_diff.begin(), want_diff.end(), diff)) Fail("%s: diffID out of order", context.c_str());
      if (digests.Finish(tail, 3, blob, diff)) Fail("%s: a second Finish succeeded", context.c_str());
    }
    calls_made += calls.size();
    ++runs;
  } while (elapsed() < seconds);
  std::printf("members ok: seed %u, %zu runs, %zu calls, %.1f s\n", seed, runs, calls_made, elapsed());
}

}  // namespace reftest
