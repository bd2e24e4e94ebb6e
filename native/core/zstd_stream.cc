#include "zstd_stream.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace fastlayer {

namespace {
constexpr size_t kRing = kMaxHelpers + 1;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ZstdFrameStream::ZstdFrameStream(int level, int threads, EngineStats* stats)
    : level_(level),
      threads_(threads),
      stats_(stats),
      group_(std::make_shared<TaskGroup>(static_cast<size_t>(threads > 1 ? threads - 1 : 1))),
      own_(new ZstdFrameCompressor(level)) {}

ZstdFrameStream::~ZstdFrameStream() {
  for (size_t i = 0; i < count_; ++i) ring_[(head_ + i) % kRing].task->Abandon();
}

void ZstdFrameStream::Write(const uint8_t* data, size_t len, std::vector<uint8_t>* out) {
  // Frames finished meanwhile go out now rather than with the next full frame.
  while (count_ > 0 && ring_[head_].task->Done()) CollectOldest(out);
  while (len > 0) {
    const size_t take = std::min(len, kZstdFrameSize - fill_.size());
    // Grows by doubling up to a frame: a small layer never holds a whole frame's memory.
    if (fill_.capacity() < fill_.size() + take) {
      fill_.reserve(std::min(kZstdFrameSize, std::max(fill_.size() + take, 2 * fill_.capacity())));
    }
    fill_.insert(fill_.end(), data, data + take);
    data += take;
    len -= take;
    if (fill_.size() == kZstdFrameSize) Submit(out);
  }
}

void ZstdFrameStream::Flush(std::vector<uint8_t>* out) {
  if (!fill_.empty()) Submit(out);
  while (count_ > 0) CollectOldest(out);
}

void ZstdFrameStream::Finish(std::vector<uint8_t>* out) {
  // A zstd stream of no frame is not valid: an empty input still makes one (empty) frame.
  if (!fill_.empty() || !any_frame_) Submit(out);
  while (count_ > 0) CollectOldest(out);
  fill_ = std::vector<uint8_t>();
  spare_inputs_.clear();
  spare_output_ = std::vector<uint8_t>();
}

void ZstdFrameStream::Submit(std::vector<uint8_t>* out) {
  any_frame_ = true;
  if (threads_ == 1) {
    const double start = Now();
    own_->Compress(fill_.data(), fill_.size(), out);
    stats_->compress_s += Now() - start;
    ++stats_->units[0];
    fill_.clear();
    return;
  }
  if (count_ == static_cast<size_t>(threads_)) CollectOldest(out);
  std::shared_ptr<Frame> frame = std::make_shared<Frame>();
  if (spare_compressors_.empty()) {
    frame->compressor.reset(new ZstdFrameCompressor(level_));
  } else {
    frame->compressor = std::move(spare_compressors_.back());
    spare_compressors_.pop_back();
  }
  frame->output.swap(spare_output_);
  const size_t bytes = fill_.size();
  frame->input.swap(fill_);
  // The task holds the frame until its work has run: an abandoned frame outlives this stream.
  std::shared_ptr<BackgroundTask> task = BackgroundTask::Start(
      [frame](size_t thread) {
        const double start = Now();
        frame->output.clear();
        frame->compressor->Compress(frame->input.data(), frame->input.size(), &frame->output);
        frame->thread = thread;
        frame->seconds = Now() - start;
      },
      static_cast<size_t>(threads_ - 1), group_);
  ring_[(head_ + count_) % kRing] = InFlight{std::move(frame), std::move(task), bytes};
  ++count_;
  if (!spare_inputs_.empty()) {
    fill_.swap(spare_inputs_.back());
    spare_inputs_.pop_back();
  }
}

void ZstdFrameStream::CollectOldest(std::vector<uint8_t>* out) {
  InFlight done = std::move(ring_[head_]);
  ring_[head_] = InFlight{};
  head_ = (head_ + 1) % kRing;
  --count_;
  const double start = Now();
  done.task->Join();  // rethrows the frame's failure; the frame is then dropped with `done`
  const double joined = Now();
  Frame& frame = *done.frame;  // the task has let go of it: ours alone
  // A frame the caller ran itself at Join counts as compression, not waiting.
  stats_->wait_s += frame.thread == 0 ? 0 : joined - start;
  stats_->compress_s += frame.seconds;
  ++stats_->units[frame.thread];
  out->insert(out->end(), frame.output.begin(), frame.output.end());
  spare_compressors_.push_back(std::move(frame.compressor));
  frame.input.clear();
  spare_inputs_.push_back(std::move(frame.input));
  frame.output.clear();
  spare_output_ = std::move(frame.output);
}

size_t ZstdFrameStream::MemoryUsage() const {
  size_t n = fill_.capacity() + spare_output_.capacity() + own_->MemoryUsage();
  for (const auto& input : spare_inputs_) n += input.capacity();
  for (const auto& compressor : spare_compressors_) n += compressor->MemoryUsage();
  // Frames in flight belong to the pool meanwhile: counted by their input, with an output and a
  // compressor of about the same size again.
  for (size_t i = 0; i < count_; ++i) n += 2 * ring_[(head_ + i) % kRing].bytes;
  return n;
}

}  // namespace fastlayer
