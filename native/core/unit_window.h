// gzip units compressed on the block pool while the caller goes on, across calls (docs/DESIGN.md,
// "Threads"): Add() hands a unit over and returns at once unless the window is full; finished units
// are appended in unit order, so the bytes never depend on which thread ran a unit or when.
// Memory: at most Capacity(threads) = 2 x threads + 1 units in flight, each holding a copy of its
// dictionary and input (288 KiB) and its output (about the same at worst): about 37 MiB for 32
// threads, 73 MiB for 64. With hash stages (hash_stage.h) a unit is also held while its input waits
// to be hashed, and a collected unit's output while it waits for the output hash: at most
// HashStage::kMaxQueued (4) of each, about 2 MiB in all.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "block_pool.h"
#include "deflate.h"
#include "engine_stats.h"
#include "hash_stage.h"

namespace fastlayer {

class UnitWindow {
 public:
  // own: the caller's compressor, used when the caller runs a unit itself at collection time.
  // in_hash, out_hash (may be null; they outlive the window): each unit's input is handed to in_hash
  // as it is added, and its output to out_hash as it is collected, straight from the unit's buffers.
  UnitWindow(int level, int threads, Deflater* own, EngineStats* stats, HashStage* in_hash = nullptr,
             HashStage* out_hash = nullptr);
  // Units in flight are abandoned: never waits for a pool thread.
  ~UnitWindow();
  UnitWindow(const UnitWindow&) = delete;
  UnitWindow& operator=(const UnitWindow&) = delete;

  static size_t Capacity(int threads) { return 2 * static_cast<size_t>(threads) + 1; }

  // Copies dict[0..dict_len) and data[0..len) into a unit and starts compressing it (non-final).
  // Appends to *out the units finished so far, in order; when the window is full, first waits for
  // the oldest.
  void Add(const uint8_t* dict, size_t dict_len, const uint8_t* data, size_t len, std::vector<uint8_t>* out);
  // Appends the finished units at the head of the window, in order; never waits.
  void CollectReady(std::vector<uint8_t>* out);
  // Appends every unit in flight, in order, waiting for each.
  void Drain(std::vector<uint8_t>* out);
  size_t MemoryUsage() const;

 private:
  struct Unit {
    std::vector<uint8_t> input;  // dictionary, then data
    size_t dict_len = 0;
    std::vector<uint8_t> output;
    size_t thread = 0;  // who compressed it
    double seconds = 0;
  };
  struct InFlight {
    std::shared_ptr<Unit> unit;
    std::shared_ptr<BackgroundTask> task;
  };
  // Buffers of finished units, reused by later ones. A unit returns here when its last holder (the
  // window, a pool task, a hash stage) lets go, on whichever thread that is.
  struct Spares {
    std::mutex mu;
    std::vector<std::unique_ptr<Unit>> units;  // guarded by mu
    size_t cap = 0;
  };
  std::shared_ptr<Unit> NewUnit();
  void CollectOldest(std::vector<uint8_t>* out);

  const int level_;
  const int threads_;
  Deflater* const own_;
  EngineStats* const stats_;
  std::shared_ptr<TaskGroup> group_;
  std::vector<InFlight> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  HashStage* const in_hash_;
  HashStage* const out_hash_;
  std::shared_ptr<Spares> spares_;
};

}  // namespace fastlayer
