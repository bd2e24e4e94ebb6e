#include "addon_worker.h"

#include <uv.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "addon_errors.h"
#include "addon_pipeline.h"

namespace fastlayer {
namespace addon {
namespace {

napi_value CopyToBuffer(napi_env env, const uint8_t* data, size_t len) {
  napi_value value = nullptr;
  void* copy_data = nullptr;
  if (napi_create_buffer_copy(env, len, data, &copy_data, &value) != napi_ok) return nullptr;
  return value;
}

// A Buffer over a block, without a copy. Its length is counted by V8 already; the rest of the
// block, times the pacing factor (addon_output.h: `pacing`, the pipeline's), is reported too, so that the collector sees
// what the Buffer keeps alive and runs before fresh memory piles up. The finalizer
// takes the report back and releases the block. On failure (runtimes that forbid external buffers)
// the bytes are copied and the block released here.
napi_value BlockBuffer(napi_env env, OutputBlock* block, size_t len, int64_t pacing) {
  napi_value value = nullptr;
  const napi_status status = napi_create_external_buffer(
      env, len, block->base,
      [](napi_env env, void*, void* hint) {
        auto* block = static_cast<OutputBlock*>(hint);
        int64_t ignored = 0;
        if (block->reported != 0) napi_adjust_external_memory(env, -block->reported, &ignored);
        ReleaseOutput(block);
      },
      block, &value);
  if (status != napi_ok) {
    value = CopyToBuffer(env, block->base, len);
    ReleaseOutput(block);
    return value;
  }
  block->reported = static_cast<int64_t>(block->capacity) * pacing - static_cast<int64_t>(len);
  int64_t ignored = 0;
  if (block->reported != 0 &&
      napi_adjust_external_memory(env, block->reported, &ignored) != napi_ok) {
    block->reported = 0;
  }
  return value;
}

bool SetProperty(napi_env env, napi_value object, const char* name, napi_value value) {
  return value != nullptr && napi_set_named_property(env, object, name, value) == napi_ok;
}

}  // namespace

PipelineWorker::PipelineWorker(Napi::Env env, Op op, Napi::Object owner, PipelineWrap* wrap,
                               std::shared_ptr<Pipeline> core,
                               std::shared_ptr<InputBuffer> input, napi_deferred deferred)
    : Napi::AsyncWorker(env, op == Op::kUpdate     ? "fastlayer:update"
                             : op == Op::kReadFile ? "fastlayer:readFile"
                             : op == Op::kFlush    ? "fastlayer:flush"
                                                   : "fastlayer:finish"),
      op_(op),
      owner_(Napi::Persistent(owner)),
      wrap_(wrap),
      core_(std::move(core)),
      input_(std::move(input)),
      deferred_(deferred) {}

PipelineWorker::~PipelineWorker() {
  if (order_ != nullptr && !executed_) order_->Abandon(ticket_);
  if (block_ != nullptr) ReleaseOutput(block_);
  ReturnScratch(std::move(out_));
}

void PipelineWorker::SetFileRead(int fd, int64_t position, size_t length, bool continues) {
  fd_ = fd;
  position_ = position;
  read_length_ = length;
  continues_ = continues;
}

void PipelineWorker::SetOrder(std::shared_ptr<CallOrder> order, uint64_t ticket) {
  order_ = std::move(order);
  ticket_ = ticket;
}

bool PipelineWorker::ReadPiece(size_t want, size_t* filled) {
  // libuv's synchronous form (no loop, no callback) runs here on the worker thread and is portable,
  // unlike pread().
  const int64_t start = position_ < 0 ? -1 : position_ + static_cast<int64_t>(bytes_read_);
  uint8_t* data = input_->writable(start);
  *filled = 0;
  while (*filled < want) {
    uv_fs_t req;
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(data + *filled), static_cast<unsigned int>(want - *filled));
    const int64_t at = start < 0 ? -1 : start + static_cast<int64_t>(*filled);
    const int result = uv_fs_read(nullptr, &req, fd_, &buf, 1, at, nullptr);
    uv_fs_req_cleanup(&req);
    if (result < 0) {
      if (result == UV_EINTR) continue;
      read_error_ = uv_err_name(result);
      error_code_ = read_error_.c_str();
      error_message_ = std::string(read_error_) + ": " + uv_strerror(result) + ", read";
      return false;
    }
    if (result == 0) break;
    *filled += static_cast<size_t>(result);
  }
  input_->set_length(*filled);
  return true;
}

bool PipelineWorker::ReadFileAndUpdate() {
  // The input buffer holds one piece, compressed right after it is read (as the C baseline's 1 MiB
  // loop does), so a 4 MiB call on one thread needs 1 MiB of buffer, not 4; paired runs measured it
  // no slower than one read per call (0.98x wall).
  const size_t piece = std::max<size_t>(1, std::min(read_length_, input_->room()));
  while (bytes_read_ < read_length_) {
    size_t filled = 0;
    const size_t want = std::min(piece, read_length_ - bytes_read_);
    if (!ReadPiece(want, &filled)) return false;
    if (filled == 0) break;
    core_->Update(input_->data(), filled, &out_);
    bytes_read_ += filled;
    if (filled < want) break;  // the end of the file
  }
  return true;
}

void PipelineWorker::Execute() {
  executed_ = true;
  const CallOrder::Turn turn = order_->Wait(ticket_);
  bool ended = false;
  if (turn.failed) {
    error_code_ = codes::kFailed;
    error_message_ = "fastlayer: an earlier call failed; the pipeline cannot continue";
  } else if (turn.cancelled) {
    // OnOK rejects it as destroyed; the core's state no longer matters.
  } else {
    // A read continuing one that reached the end of the file has nothing after it: the caller made
    // it before it knew, and bytes appended since then are not what it asked for.
    if (continues_ && turn.read_short) ended = true;
    if (ended) read_length_ = 0;
    Run();
  }
  order_->Done(error_code_ != nullptr, op_ == Op::kReadFile && (ended || bytes_read_ < read_length_));
}

void PipelineWorker::Run() {
  try {
    out_ = BorrowScratch();
    if (op_ != Op::kFinish) {
      // flush() returns its bytes as update() does (it may end several zstd frames at once).
      if (op_ == Op::kFlush) {
        core_->Flush(&out_);
      } else if (op_ == Op::kReadFile) {
        if (!ReadFileAndUpdate()) return;
      } else {
        core_->Update(input_->data(), input_->length(), &out_);
      }
      if (!copy_out_ && out_.size() >= kBlockMinimum) {
        block_ = AllocateOutput(out_.size());
        std::memcpy(block_->base, out_.data(), out_.size());
      }
    } else {
      core_->Finish(&out_, &digests_);
    }
  } catch (const std::bad_alloc&) {
    error_code_ = codes::kNoMemory;
    error_message_ = "fastlayer: out of memory while compressing";
  } catch (const std::exception& e) {
    error_code_ = codes::kInternal;
    error_message_ = e.what();
  } catch (...) {
    error_code_ = codes::kInternal;
    error_message_ = "fastlayer: unknown native error";
  }
}

napi_value PipelineWorker::MakeUpdateResult(napi_env env) {
  if (block_ == nullptr) return CopyToBuffer(env, out_.data(), out_.size());
  return BlockBuffer(env, std::exchange(block_, nullptr), out_.size(), wrap_->gc_pacing());
}

napi_value PipelineWorker::MakeReadFileResult(napi_env env, size_t bytes_read_count) {
  napi_value result = nullptr;
  napi_value bytes_read = nullptr;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_double(env, static_cast<double>(bytes_read_count), &bytes_read) != napi_ok) {
    return nullptr;
  }
  const bool ok = SetProperty(env, result, "out", MakeUpdateResult(env)) &&
                  SetProperty(env, result, "bytesRead", bytes_read);
  return ok ? result : nullptr;
}

napi_value PipelineWorker::MakeFinishResult(napi_env env) {
  napi_value result = nullptr;
  napi_value size = nullptr;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_double(env, static_cast<double>(digests_.size), &size) != napi_ok) {
    return nullptr;
  }
  const bool ok = SetProperty(env, result, "out", CopyToBuffer(env, out_.data(), out_.size())) &&
                  SetProperty(env, result, "digest", CopyToBuffer(env, digests_.digest, 32)) &&
                  SetProperty(env, result, "diffID", CopyToBuffer(env, digests_.diff_id, 32)) &&
                  SetProperty(env, result, "size", size);
  return ok ? result : nullptr;
}

void PipelineWorker::OnOK() {
  napi_env env = Env();
  const bool failed = error_code_ != nullptr;
  wrap_->CallCompleted(env, failed);
  // Release the input and the core on the main thread, before settling.
  input_.reset();
  core_.reset();

  napi_value error = nullptr;
  napi_value value = nullptr;
  if (failed) {
    error = MakeError(env, ErrorKind::kError, error_code_, error_message_);
  } else if (wrap_->destroyed()) {
    error = MakeError(env, ErrorKind::kError, codes::kDestroyed,
                      "fastlayer: the pipeline was destroyed while this call was in flight");
  } else {
    value = op_ == Op::kUpdate || op_ == Op::kFlush ? MakeUpdateResult(env)
            : op_ == Op::kReadFile ? MakeReadFileResult(env, bytes_read_)
                                   : MakeFinishResult(env);
    if (value == nullptr) {
      error = MakeError(env, ErrorKind::kError, codes::kNoMemory,
                        "fastlayer: cannot create the result object");
    }
  }
  // Statuses are ignored on purpose: they fail only while the environment is shutting down, when
  // nobody can observe the promise any more.
  if (value != nullptr) {
    napi_resolve_deferred(env, deferred_, value);
  } else {
    if (error == nullptr) napi_get_undefined(env, &error);
    napi_reject_deferred(env, deferred_, error);
  }
  owner_.Reset();
}

}  // namespace addon
}  // namespace fastlayer
