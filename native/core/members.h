// Many small gzip streams in one call (eStargz members, src/estargz/): each input compressed alone
// in the unit format of docs/DESIGN.md, so its bytes are those a Pipeline of the same level gives
// for that input. One compressor per thread serves every member of the call: no per-member setup.
// MemberDigests hashes the members of many such calls, in the order the calls were made, on the
// threads that ran them: the caller's thread hashes nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <set>
#include <vector>

#include "cond_var.h"
#include "sha256.h"

namespace fastlayer {

// Member i is data[start_i .. start_i + sizes[i]), the members laid end to end. outs receives one
// complete gzip stream per member, and digests (32 bytes per member) the SHA-256 of each member's
// first hash_lens[i] bytes (an eStargz chunk starts its member); with digests null, nothing is
// hashed (MemberDigests::Add takes them with the diffID). Up to `helpers` pool threads share
// the work, a large member unit by unit; the bytes never depend on it. Compressors are kept
// between calls (at most kMaxThreads per level, process-wide). Throws std::invalid_argument
// for a level outside 0..9, UnsupportedCpu like NewDeflater.
void GzipMembers(int level, const uint8_t* data, const std::vector<size_t>& sizes,
                 const std::vector<size_t>& hash_lens, size_t helpers,
                 std::vector<std::vector<uint8_t>>* outs, std::vector<uint8_t>* digests);

// Throws what GzipMembers would for `level` (std::invalid_argument, UnsupportedCpu) without making a
// compressor: the check before a call is queued.
void CheckMembersLevel(int level);

// Where a member's hashed prefix (an eStargz chunk) stands in a file of several chunks, whose digest
// is the SHA-256 of its chunks in order (a file of one chunk has the chunk's digest: no mark).
enum FileMark : uint8_t { kNoFile = 0, kFileFirst = 1, kFileMiddle = 2, kFileLast = 3 };

// The SHA-256 of the inputs (the uncompressed tar: its diffID) and of the outputs (the blob) of a run
// of GzipMembers calls taken in the order of their tickets, though the calls run at once: each call
// takes a ticket when it is made and adds its bytes once every earlier ticket is added or skipped.
// Two stages, each in ticket order: the input (the diffID, the chunks and files over the same
// bytes) and the blob. A call hashes its input, then its members, so while one call hashes its
// members the next one hashes its input: the bound of a layer is the slower stage, not their sum.
// Thread-safe. Add waits only for calls made before it, which were queued before it and so run.
class MemberDigests {
 public:
  // Seconds each stage was busy (the CPU time of its turns, members.cc ThreadSeconds): each runs one
  // call at a time, so the busier one bounds a layer's throughput however many threads compress (the
  // benchmarks' prediction).
  struct Busy {
    double input = 0;
    double blob = 0;
  };

  // The next ticket (on the thread that makes the calls, in their order). `marks` (empty, or one per
  // member) are the call's file marks: they must go on from the calls before (a file's first chunk,
  // its middle ones, its last, with no other mark between), else std::invalid_argument and no ticket.
  uint64_t Take(const std::vector<uint8_t>& marks = {});
  // Waits for the ticket's turns, then hashes `in` into the diffID and each of `outs` into the blob.
  void Add(uint64_t ticket, const uint8_t* in, size_t len, const std::vector<std::vector<uint8_t>>& outs);
  // The same for `in` cut into members by `sizes`, writing GzipMembers' digests too (32 bytes per
  // member, of its first hash_lens[i] bytes), then one more for each member marked kFileLast (its
  // file's digest), in member order. Each prefix is hashed in one pass with the diffID and its file
  // over the same bytes (Sha256::UpdateShared); marks are those given to Take. Once it has begun
  // waiting it never throws; where it throws (no memory for the digests) the ticket is skipped.
  void Add(uint64_t ticket, const uint8_t* in, const std::vector<size_t>& sizes, const std::vector<size_t>& hash_lens,
           const std::vector<uint8_t>& marks, const std::vector<std::vector<uint8_t>>& outs,
           std::vector<uint8_t>* digests);
  // A call that failed or never ran: its turns pass without bytes, and Finish then refuses. Never
  // waits. Not for a ticket Add was called with.
  void Skip(uint64_t ticket);
  // Once every ticket is added: hashes `tail` into the blob and writes both digests. False (nothing
  // written) when a ticket was skipped or is still out, a file was left unfinished, or Finish already ran.
  bool Finish(const uint8_t* tail, size_t tail_len, uint8_t blob[32], uint8_t diff[32]);
  Busy HashSeconds();

 private:
  // One stage's turns: the ticket whose turn it is, those skipped ahead, its busy seconds.
  struct Stage {
    uint64_t next = 0;
    std::set<uint64_t> skipped;
    double seconds = 0;
  };
  // Waits for the ticket's turn at `stage` and returns the thread's CPU seconds then; EndTurn adds
  // the turn's to the stage and passes the turn on. The Add overloads hash between the two.
  double AwaitTurn(Stage* stage, uint64_t ticket);
  void EndTurn(Stage* stage, double started);
  void PassTurn(Stage* stage);  // with mu_ held

  std::mutex mu_;
  CondVar turn_;
  uint64_t issued_ = 0;
  Stage input_;
  Stage output_;
  bool broken_ = false;
  bool finished_ = false;
  // Whether the marks taken so far leave a file open (checked in Take, on the caller's thread).
  bool planned_open_ = false;
  Sha256 blob_;  // the output stage's
  Sha256 diff_;  // the input stage's, with file_
  Sha256 file_;  // the open file's chunks so far (in ticket order)
};

}  // namespace fastlayer
