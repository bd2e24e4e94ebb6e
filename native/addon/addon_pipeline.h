// JavaScript class Pipeline (docs/DESIGN.md, "Native addon API") over fastlayer::Pipeline.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "addon_call_order.h"
#include "addon_input.h"
#include "addon_output.h"
#include "addon_view.h"
#include "addon_worker.h"
#include "pipeline.h"

namespace fastlayer {
namespace addon {

class PipelineWrap : public Napi::ObjectWrap<PipelineWrap> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit PipelineWrap(const Napi::CallbackInfo& info);

  // Called by PipelineWorker on the main thread when its call has completed.
  void CallCompleted(napi_env env, bool failed);
  bool destroyed() const { return destroyed_; }
  // The factor by which its outputs' blocks are reported to V8 (addon_output.h).
  int64_t gc_pacing() const { return consumer_slow_ ? kGcPacingSlowConsumer : kGcPacing; }

 private:
  Napi::Value Update(const Napi::CallbackInfo& info);
  // readFile(fd, position, length): like update() with up to `length` bytes that the worker reads
  // from `fd` at `position` (-1: at the descriptor's own position, for pipes); resolves with
  // { out, bytesRead }, bytesRead < length only at the end of the file. With `continues` (a fourth
  // argument, true) it must start where the last call, a readFile() of the same fd, ended; it reads
  // nothing when that one reached the end, and it may be made while that one is still in flight:
  // it is then queued behind it and runs the moment it is done.
  Napi::Value ReadFile(const Napi::CallbackInfo& info);
  // flush(): a sync flush point (Pipeline::Flush); resolves with the bytes, like update().
  Napi::Value Flush(const Napi::CallbackInfo& info);
  Napi::Value Finish(const Napi::CallbackInfo& info);
  // stats(): { units, inputHashSeconds, compressSeconds, outputHashSeconds, waitSeconds, ... } as of
  // the last call completed (engine_stats.h; hashThreads is known from construction); units[k] is
  // the count compressed by thread k (0: the caller's thread, that is the call's libuv worker; 1..:
  // pool threads).
  Napi::Value Stats(const Napi::CallbackInfo& info);
  void Destroy(const Napi::CallbackInfo& info);
  // setConsumerSlow(slow): whether the consumer of the outputs is behind (addon_output.h); affects
  // how outputs made from now on are reported to the collector, never the bytes.
  void SetConsumerSlow(const Napi::CallbackInfo& info);
  void Finalize(Napi::Env env) override;

  Napi::Value Start(Napi::Env env, Napi::Object self, PipelineWorker::Op op,
                    const std::function<void(PipelineWorker*)>& setup = nullptr);

  // Runs `prepare` (Fill or Reserve) on an input buffer and reports its change in capacity to V8.
  // Returns the error to reject with when it runs out of memory, else nullptr.
  napi_value PrepareInput(napi_env env, InputBuffer& input, const std::function<void(InputBuffer&)>& prepare,
                          const char* out_of_memory);
  // Rejects with the error for the current state (destroyed, finished, busy, failed), if any;
  // `queued_read`: a readFile() that may be queued behind the one in flight is not busy.
  napi_value StateError(napi_env env, bool queued_read = false) const;
  void ReleaseCore(napi_env env);
  // Frees the input copy (the pipeline takes no more input) and its external memory.
  void ReleaseInput(napi_env env);
  void AdjustExternal(napi_env env, int64_t change);

  // Shared with the worker of a call in flight, so destroy() can drop its reference at any time
  // and the state is freed when that call completes.
  std::shared_ptr<Pipeline> core_;
  // The bytes of the update() in flight, copied from its views; shared with that call's worker so
  // destroy() may drop it at any time. Only refilled when no call is in flight.
  std::shared_ptr<InputBuffer> input_;
  // The second readFile() in flight reads into whichever of input_ and spare_ the first does not
  // use (last_read_input_: the buffer of the readFile() made last). Made at the first queued read.
  std::shared_ptr<InputBuffer> spare_;
  const InputBuffer* last_read_input_ = nullptr;
  // The order of the calls on the core (shared with their workers).
  std::shared_ptr<CallOrder> order_;
  // Calls made and not completed: 0, 1, or 2 when a readFile() was queued behind another.
  int in_flight_ = 0;
  // The last call made was a readFile() of read_fd_ that ends at read_end_ (-1: unknown): what a
  // continuing readFile() must continue.
  bool last_read_ = false;
  int read_fd_ = -1;
  double read_end_ = -1;
  // A pipeline on one thread hands its outputs to JavaScript as copies made on the main thread,
  // which is otherwise idle beside it, instead of as blocks (addon_output.h) filled on its only
  // thread: fresh blocks, faulted in on the worker while earlier outputs wait for the collector,
  // cost that thread about 7% of a level 1 layer (docs/PERFORMANCE.md). With helpers, outputs stay
  // blocks: the main thread is then the one to spare.
  bool copy_outputs_ = false;
  int64_t external_bytes_ = 0;
  // The core's own MemoryUsage() as last reported (part of external_bytes_).
  int64_t core_bytes_ = 0;
  // Copied from the core when a call completes: the core is not read while a worker runs it.
  EngineStats stats_;
  bool finished_ = false;
  bool destroyed_ = false;
  bool failed_ = false;
  bool consumer_slow_ = false;
};

}  // namespace addon
}  // namespace fastlayer
