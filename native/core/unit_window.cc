#include "unit_window.h"

#include <chrono>
#include <utility>

#include "format.h"

namespace fastlayer {

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Pool thread `thread`'s compressor for `level`, made on first use and kept: the pool is shared by
// every pipeline, so these are bounded by its threads, not by the layers. Each entry is only ever
// touched by its own thread. Never freed, since a pool thread may still compress during exit; not
// thread_local, which would make the addon need the dynamic loader's TLS at run time.
Deflater* HelperDeflater(size_t thread, int level) {
  static auto* table = new std::unique_ptr<Deflater>[(kMaxHelpers + 1) * 10];
  std::unique_ptr<Deflater>& d = table[thread * 10 + static_cast<size_t>(level)];
  if (!d) d = NewDeflater(level);
  return d.get();
}

}  // namespace

UnitWindow::UnitWindow(int level, int threads, Deflater* own, EngineStats* stats, HashStage* in_hash,
                       HashStage* out_hash)
    : level_(level),
      threads_(threads),
      own_(own),
      stats_(stats),
      group_(std::make_shared<TaskGroup>(static_cast<size_t>(threads - 1))),
      ring_(Capacity(threads)),
      in_hash_(in_hash),
      out_hash_(out_hash),
      spares_(std::make_shared<Spares>()) {
  // The input hash may still hold a few units the window has collected.
  spares_->cap = Capacity(threads) + HashStage::kMaxQueued;
}

std::shared_ptr<UnitWindow::Unit> UnitWindow::NewUnit() {
  std::unique_ptr<Unit> unit;
  {
    std::lock_guard<std::mutex> lock(spares_->mu);
    if (!spares_->units.empty()) {
      unit = std::move(spares_->units.back());
      spares_->units.pop_back();
    }
  }
  if (!unit) unit.reset(new Unit());
  // The lock orders the last holder's reads of the buffers before the next user's writes.
  std::shared_ptr<Spares> spares = spares_;
  return std::shared_ptr<Unit>(unit.release(), [spares](Unit* done) {
    std::unique_ptr<Unit> owned(done);
    std::lock_guard<std::mutex> lock(spares->mu);
    if (spares->units.size() < spares->cap) spares->units.push_back(std::move(owned));
  });
}

UnitWindow::~UnitWindow() {
  for (size_t i = 0; i < count_; ++i) ring_[(head_ + i) % ring_.size()].task->Abandon();
}

void UnitWindow::Add(const uint8_t* dict, size_t dict_len, const uint8_t* data, size_t len,
                     std::vector<uint8_t>* out) {
  CollectReady(out);
  if (count_ == ring_.size()) CollectOldest(out);
  std::shared_ptr<Unit> unit = NewUnit();
  unit->input.assign(dict, dict + dict_len);
  unit->input.insert(unit->input.end(), data, data + len);
  unit->dict_len = dict_len;
  unit->output.clear();
  // Hashed from the unit's own copy while a pool thread compresses it (both only read it).
  if (in_hash_) in_hash_->Push(unit, unit->input.data() + dict_len, len);
  // The task holds the unit until its work has run: an abandoned unit outlives this window. own_ is
  // only used on thread 0, which is the owner collecting it, while the pipeline is alive.
  const int level = level_;
  Deflater* own = own_;
  std::shared_ptr<BackgroundTask> task = BackgroundTask::Start(
      [unit, level, own](size_t thread) {
        const double start = Now();
        Deflater* d = thread == 0 ? own : HelperDeflater(thread, level);
        const uint8_t* in = unit->input.data();
        d->Deflate(in, unit->dict_len, in + unit->dict_len, unit->input.size() - unit->dict_len, false,
                   &unit->output);
        unit->thread = thread;
        unit->seconds = Now() - start;
      },
      static_cast<size_t>(threads_ - 1), group_);
  ring_[(head_ + count_) % ring_.size()] = InFlight{std::move(unit), std::move(task)};
  ++count_;
}

void UnitWindow::CollectReady(std::vector<uint8_t>* out) {
  while (count_ > 0 && ring_[head_].task->Done()) CollectOldest(out);
}

void UnitWindow::Drain(std::vector<uint8_t>* out) {
  while (count_ > 0) CollectOldest(out);
}

void UnitWindow::CollectOldest(std::vector<uint8_t>* out) {
  InFlight done = std::move(ring_[head_]);
  ring_[head_] = InFlight{};
  head_ = (head_ + 1) % ring_.size();
  --count_;
  // While the oldest unit is still compressing, this thread compresses later ones that no pool
  // thread has taken yet (oldest first) instead of waiting: with threads N the layer then has N
  // threads compressing, not N - 1 and an idle caller.
  for (size_t i = 0; i < count_ && !done.task->Done(); ++i) {
    const InFlight& later = ring_[(head_ + i) % ring_.size()];
    later.task->RunIfQueued();  // its seconds are counted when it is collected
  }
  const double start = Now();
  done.task->Join();  // rethrows the unit's failure; the unit is then dropped with `done`
  const double joined = Now();
  Unit& unit = *done.unit;  // the task has let go of it: ours alone
  // A unit the caller ran itself at Join counts as compression, not waiting.
  stats_->wait_s += unit.thread == 0 ? 0 : joined - start;
  stats_->compress_s += unit.seconds;
  ++stats_->units[unit.thread];
  out->insert(out->end(), unit.output.begin(), unit.output.end());
  done.task.reset();
  if (out_hash_) {
    // Only the output waits for its hash: the unit (its 288 KiB input buffer) goes back to the
    // spares now, so that units waiting for a hash do not add up to more units kept.
    auto output = std::make_shared<std::vector<uint8_t>>();
    output->swap(unit.output);
    const uint8_t* bytes = output->data();
    const size_t n = output->size();
    out_hash_->Push(std::move(output), bytes, n);
  }
}

size_t UnitWindow::MemoryUsage() const {
  size_t n = ring_.capacity() * sizeof(InFlight);
  {
    std::lock_guard<std::mutex> lock(spares_->mu);
    for (const auto& unit : spares_->units) n += unit->input.capacity() + unit->output.capacity();
  }
  // Units in flight belong to the pool meanwhile, and units waiting for a hash to the hash stages: a
  // full unit and its output each, about.
  const size_t held = count_ + (in_hash_ ? HashStage::kMaxQueued : 0);
  n += held * 2 * (kBlockSize + kWindowSize);
  // Outputs waiting for the output hash: about a unit each at most.
  if (out_hash_) n += HashStage::kMaxQueued * (kBlockSize + kWindowSize);
  return n;
}

}  // namespace fastlayer
