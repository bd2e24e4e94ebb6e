#include "addon_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <new>
#include <string>

#include "addon_errors.h"
#include "addon_output.h"
#include "addon_view.h"
#include "addon_worker.h"

namespace fastlayer {
namespace addon {
namespace {

std::string Bound(double d) { return std::to_string(static_cast<int64_t>(d)); }

// Bounds one readFile() call's length (the engine asks for 1 MiB, 4 MiB on one thread).
constexpr int kMaxReadLength = 64 * 1024 * 1024;
// A readFile() call reads and compresses pieces of at most this size in turn, as the C baseline's
// loop does, so the input buffer stays this size however long the call (4 MiB calls on one thread:
// 3 MiB less than one read per call, and no slower in paired runs).
constexpr size_t kReadPiece = 1024 * 1024;
constexpr double kMaxSafeInteger = 9007199254740991.0;

// An integer argument in [min, max]: TypeError when not a number, RangeError otherwise.
double SafeIntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, double min,
                      double max) {
  Napi::Env env = info.Env();
  const Napi::Value value = info[index];
  if (!value.IsNumber()) {
    ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType,
               std::string("The \"") + name + "\" argument must be of type number");
  }
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange,
               std::string("The value of \"") + name + "\" is out of range. It must be an integer >= " +
                   Bound(min) + " and <= " + Bound(max));
  }
  return d;
}

int IntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, int min, int max) {
  return static_cast<int>(SafeIntegerArg(info, index, name, min, max));
}

// Raw Node-API and no C++ exception: napi_create_promise fails once the environment can no longer
// run JavaScript (a worker being terminated), and then there is nobody to settle anything for. The
// empty value returns undefined, or lets a pending JavaScript exception propagate.
Napi::Value RejectedPromise(Napi::Env env, napi_value error) {
  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return Napi::Value();
  if (error == nullptr) napi_get_undefined(env, &error);
  napi_reject_deferred(env, deferred, error);
  return Napi::Value(env, promise);
}

}  // namespace

Napi::Function PipelineWrap::Define(Napi::Env env) {
  return DefineClass(env, "Pipeline",
                     {
                         InstanceMethod<&PipelineWrap::Update>("update"),
                         InstanceMethod<&PipelineWrap::ReadFile>("readFile"),
                         InstanceMethod<&PipelineWrap::Flush>("flush"),
                         InstanceMethod<&PipelineWrap::Finish>("finish"),
                         InstanceMethod<&PipelineWrap::Destroy>("destroy"),
                         InstanceMethod<&PipelineWrap::Stats>("stats"),
                         InstanceMethod<&PipelineWrap::SetConsumerSlow>("setConsumerSlow"),
                     });
}

PipelineWrap::PipelineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PipelineWrap>(info) {
  Napi::Env env = info.Env();
  // The level's range depends on the mode (zstd: 1..19), so the mode is read first.
  const int mode = IntegerArg(info, 1, "mode", 0, 2);
  const bool zstd = mode == static_cast<int>(Mode::kZstd);
  const int level = IntegerArg(info, 0, "level", zstd ? kZstdMinLevel : 0, zstd ? kZstdMaxLevel : 9);
  // Optional: the threads one call may compress on (block_pool.h). The bytes do not depend on it.
  const int threads = info[2].IsUndefined() ? 1 : IntegerArg(info, 2, "threads", 1, kMaxThreads);
  try {
    core_ = std::make_shared<Pipeline>(level, static_cast<Mode>(mode), threads);
    input_ = std::make_shared<InputBuffer>();
    order_ = std::make_shared<CallOrder>();
  } catch (const UnsupportedCpu& e) {
    ThrowError(env, ErrorKind::kError, codes::kUnsupportedCpu, e.what());
  } catch (const std::bad_alloc&) {
    ThrowError(env, ErrorKind::kError, codes::kNoMemory, "fastlayer: out of memory");
  }
  AddOutputUser();
  // Before any call: stats().hashThreads then tells JavaScript at once whether the core gave this
  // pipeline helpers (Pipeline::Pipeline decides; the engine picks its read length by it).
  stats_ = core_->Stats();
  copy_outputs_ = !stats_.hash_threads;
  core_bytes_ = 0;
  // Not Napi::MemoryManagement: it throws on failure, after AddOutputUser() and with no Finalize()
  // to balance it.
  AdjustExternal(env, static_cast<int64_t>(core_->MemoryUsage()));
  core_bytes_ = external_bytes_;
}

napi_value PipelineWrap::StateError(napi_env env, bool queued_read) const {
  if (destroyed_) {
    return MakeError(env, ErrorKind::kError, codes::kDestroyed,
                     "fastlayer: the pipeline has been destroyed");
  }
  if (finished_) {
    return MakeError(env, ErrorKind::kError, codes::kFinished,
                     "fastlayer: the pipeline has already finished");
  }
  if (in_flight_ > 0 && !queued_read) {
    return MakeError(env, ErrorKind::kError, codes::kBusy,
                     "fastlayer: another update(), readFile(), flush() or finish() call is still in flight");
  }
  if (failed_) {
    return MakeError(env, ErrorKind::kError, codes::kFailed,
                     "fastlayer: an earlier call failed; the pipeline cannot continue");
  }
  return nullptr;
}

Napi::Value PipelineWrap::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<ByteView> views;
  try {
    GetByteViews(env, info[0], "chunk", &views);
  } catch (const Napi::Error& e) {
    return RejectedPromise(env, e.Value());
  }
  if (napi_value error = StateError(env)) return RejectedPromise(env, error);
  // Copied here, on the main thread, so nothing JavaScript does to the views later (detaching,
  // transferring, writing) can reach the worker thread: Node-API cannot pin a backing store.
  if (napi_value error = PrepareInput(env, *input_, [&](InputBuffer& in) { in.Fill(views); },
                                      "fastlayer: out of memory while copying the input")) {
    return RejectedPromise(env, error);
  }
  return Start(env, info.This().As<Napi::Object>(), PipelineWorker::Op::kUpdate);
}

Napi::Value PipelineWrap::ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  double position = 0;
  int length = 0;
  bool continues = false;
  try {
    fd = IntegerArg(info, 0, "fd", 0, INT32_MAX);
    position = SafeIntegerArg(info, 1, "position", -1, kMaxSafeInteger);
    length = IntegerArg(info, 2, "length", 1, kMaxReadLength);
    continues = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  } catch (const Napi::Error& e) {
    return RejectedPromise(env, e.Value());
  }
  // A continuing read starts where the last call, a readFile() of the same descriptor at a known
  // position, ended: the worker then knows that nothing follows a read that reached the end.
  if (continues && !(last_read_ && fd == read_fd_ && position >= 0 && position == read_end_)) {
    return RejectedPromise(env, MakeError(env, ErrorKind::kRangeError, codes::kOutOfRange,
                                          "fastlayer: a continuing readFile() must read the same fd from where the last call, a readFile(), ended"));
  }
  // It may be queued behind the one call in flight, which it continues; anything else waits.
  const bool queued = continues && in_flight_ == 1;
  if (napi_value error = StateError(env, queued)) return RejectedPromise(env, error);
  std::shared_ptr<InputBuffer> buffer = input_;
  if (queued) {
    if (spare_ == nullptr) {
      try {
        spare_ = std::make_shared<InputBuffer>();
      } catch (const std::bad_alloc&) {
        return RejectedPromise(env, MakeError(env, ErrorKind::kError, codes::kNoMemory, "fastlayer: out of memory"));
      }
    }
    // The call in flight reads into the buffer of the last read made.
    if (last_read_input_ == input_.get()) buffer = spare_;
  }
  const size_t room = std::min(static_cast<size_t>(length), kReadPiece);
  if (napi_value error = PrepareInput(env, *buffer, [&](InputBuffer& in) { in.Reserve(room); },
                                      "fastlayer: out of memory while reserving the read buffer")) {
    return RejectedPromise(env, error);
  }
  const int before = in_flight_;
  Napi::Value promise = Start(env, info.This().As<Napi::Object>(), PipelineWorker::Op::kReadFile,
                             [&](PipelineWorker* worker) {
                               worker->SetInput(buffer);
                               worker->SetFileRead(fd, static_cast<int64_t>(position),
                                                   static_cast<size_t>(length), continues);
                             });
  if (in_flight_ > before) {
    // It was queued (one that could not be leaves in_flight_ as it was; Start() cleared last_read_).
    last_read_ = true;
    read_fd_ = fd;
    read_end_ = position < 0 ? -1 : position + length;
    last_read_input_ = buffer.get();
  }
  return promise;
}

napi_value PipelineWrap::PrepareInput(napi_env env, InputBuffer& input,
                                      const std::function<void(InputBuffer&)>& prepare,
                                      const char* out_of_memory) {
  const size_t before = input.capacity();
  try {
    prepare(input);
  } catch (const std::bad_alloc&) {
    // The buffer is left empty, with capacity 0 (InputBuffer's contract).
    AdjustExternal(env, -static_cast<int64_t>(before));
    return MakeError(env, ErrorKind::kError, codes::kNoMemory, out_of_memory);
  }
  AdjustExternal(env, static_cast<int64_t>(input.capacity()) - static_cast<int64_t>(before));
  return nullptr;
}

Napi::Value PipelineWrap::Flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (napi_value error = StateError(env)) return RejectedPromise(env, error);
  return Start(env, info.This().As<Napi::Object>(), PipelineWorker::Op::kFlush);
}

Napi::Value PipelineWrap::Finish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (napi_value error = StateError(env)) return RejectedPromise(env, error);
  finished_ = true;
  ReleaseInput(env);
  return Start(env, info.This().As<Napi::Object>(), PipelineWorker::Op::kFinish);
}

Napi::Value PipelineWrap::Start(Napi::Env env, Napi::Object self, PipelineWorker::Op op,
                                const std::function<void(PipelineWorker*)>& setup) {
  napi_deferred deferred = nullptr;
  napi_value promise = nullptr;
  // No exception here (see RejectedPromise): a dying environment gets undefined and no call.
  if (napi_create_promise(env, &deferred, &promise) != napi_ok) return Napi::Value();
  PipelineWorker* worker = nullptr;
  napi_value error = nullptr;
  try {
    worker = new PipelineWorker(env, op, self, this, core_,
                                op == PipelineWorker::Op::kUpdate || op == PipelineWorker::Op::kReadFile ? input_ : nullptr,
                                deferred);
    if (setup) setup(worker);
    if (copy_outputs_) worker->CopyOutputOnMainThread();
    // The ticket right before the call is queued: a worker deleted without running gives it back.
    worker->SetOrder(order_, order_->Take());
    worker->Queue();
    in_flight_++;
    last_read_ = false;
    return Napi::Value(env, promise);
  } catch (const Napi::Error& e) {
    error = e.Value();
  } catch (const std::bad_alloc&) {
    error = MakeError(env, ErrorKind::kError, codes::kNoMemory, "fastlayer: out of memory");
  }
  // Not queued: the promise is settled here instead, so no caller waits forever.
  delete worker;
  if (error == nullptr) napi_get_undefined(env, &error);
  napi_reject_deferred(env, deferred, error);
  return Napi::Value(env, promise);
}

void PipelineWrap::CallCompleted(napi_env env, bool failed) {
  in_flight_--;
  if (failed) failed_ = true;
  // The core is read only when no call runs it: a queued read may have started already.
  if (in_flight_ > 0) return;
  // A call on several threads keeps per-unit outputs for the next one: the core grew.
  if (core_ != nullptr) {
    stats_ = core_->Stats();
    const auto now = static_cast<int64_t>(core_->MemoryUsage());
    AdjustExternal(env, now - core_bytes_);
    core_bytes_ = now;
  }
}

Napi::Value PipelineWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Napi::Array units = Napi::Array::New(env, kMaxHelpers + 1);
  for (size_t i = 0; i <= kMaxHelpers; ++i) {
    units.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(stats_.units[i])));
  }
  result.Set("units", units);
  result.Set("inputHashSeconds", Napi::Number::New(env, stats_.input_hash_s));
  result.Set("compressSeconds", Napi::Number::New(env, stats_.compress_s));
  result.Set("outputHashSeconds", Napi::Number::New(env, stats_.output_hash_s));
  result.Set("waitSeconds", Napi::Number::New(env, stats_.wait_s));
  result.Set("hashWaitSeconds", Napi::Number::New(env, stats_.hash_wait_s));
  result.Set("hashThreads", Napi::Boolean::New(env, stats_.hash_threads));
  return result;
}

void PipelineWrap::SetConsumerSlow(const Napi::CallbackInfo& info) {
  // A hint: anything but true means "not behind".
  consumer_slow_ = info[0].IsBoolean() && info[0].As<Napi::Boolean>().Value();
}

void PipelineWrap::Destroy(const Napi::CallbackInfo& info) {
  if (destroyed_) return;
  destroyed_ = true;
  // A queued read that has not started skips its work.
  if (order_ != nullptr) order_->Cancel();
  ReleaseCore(info.Env());
}

void PipelineWrap::Finalize(Napi::Env env) { ReleaseCore(env); }

void PipelineWrap::ReleaseCore(napi_env env) {
  // Destroy, then finalize: the second call finds nothing left to release.
  if (core_ != nullptr) RemoveOutputUser();
  // A call in flight holds its own reference: the state goes when that call completes.
  core_.reset();
  input_.reset();
  spare_.reset();
  if (external_bytes_ != 0) {
    int64_t ignored;
    napi_adjust_external_memory(env, -external_bytes_, &ignored);
    external_bytes_ = 0;
  }
}

void PipelineWrap::ReleaseInput(napi_env env) {
  if (input_ != nullptr) AdjustExternal(env, -static_cast<int64_t>(input_->capacity()));
  if (spare_ != nullptr) AdjustExternal(env, -static_cast<int64_t>(spare_->capacity()));
  input_.reset();
  spare_.reset();
}

void PipelineWrap::AdjustExternal(napi_env env, int64_t change) {
  if (change == 0) return;
  external_bytes_ += change;
  int64_t ignored;
  napi_adjust_external_memory(env, change, &ignored);
}

}  // namespace addon
}  // namespace fastlayer
