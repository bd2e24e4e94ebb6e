// One update(), readFile(), flush() or finish() call: runs the C++ core on a libuv worker thread and settles the promise
// on the main thread. Execute() makes no Node-API calls.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon_call_order.h"
#include "addon_input.h"
#include "addon_output.h"
#include "addon_view.h"
#include "pipeline.h"

namespace fastlayer {
namespace addon {

class PipelineWrap;

class PipelineWorker : public Napi::AsyncWorker {
 public:
  enum class Op { kUpdate, kReadFile, kFlush, kFinish };

  // `owner` is the JS object of `wrap`, referenced until the call completes; `input` (update and
  // readFile) holds a copy of the bytes or room for them, so no JavaScript memory is touched off the
  // main thread.
  PipelineWorker(Napi::Env env, Op op, Napi::Object owner, PipelineWrap* wrap,
                 std::shared_ptr<Pipeline> core, std::shared_ptr<InputBuffer> input,
                 napi_deferred deferred);
  // For kReadFile: the part of the file Execute() reads, piece by piece, into the input buffer.
  // `continues`: it continues the call before it, a readFile() of the same fd, and reads nothing
  // when that one reached the end of the file.
  void SetFileRead(int fd, int64_t position, size_t length, bool continues);
  // For kReadFile: the buffer it reads into, when not the one given at construction.
  void SetInput(std::shared_ptr<InputBuffer> input) { input_ = std::move(input); }
  // Every call: its place in the pipeline's order (taken right before it is queued).
  void SetOrder(std::shared_ptr<CallOrder> order, uint64_t ticket);
  // The output goes to JavaScript as a copy made on the main thread (OnOK), never as a block: see
  // PipelineWrap::copy_outputs_.
  void CopyOutputOnMainThread() { copy_out_ = true; }
  ~PipelineWorker() override;

 protected:
  void Execute() override;
  // Always used to settle, also on failure: errors are recorded by Execute() rather than passed
  // to SetError(), so that settling never goes through code paths that throw.
  void OnOK() override;

 private:
  // The call's work on the core, once its turn has come.
  void Run();
  // Reads the file in pieces of the input buffer's size (until `length` bytes or the end), each
  // given to the core as soon as it is read; false after recording an error.
  bool ReadFileAndUpdate();
  // Fills the input with up to `want` bytes from the file; false after recording an error.
  bool ReadPiece(size_t want, size_t* filled);
  napi_value MakeUpdateResult(napi_env env);
  napi_value MakeReadFileResult(napi_env env, size_t bytes_read);
  napi_value MakeFinishResult(napi_env env);

  const Op op_;
  Napi::ObjectReference owner_;
  PipelineWrap* wrap_;
  std::shared_ptr<Pipeline> core_;
  std::shared_ptr<InputBuffer> input_;
  napi_deferred deferred_;
  int fd_ = -1;
  int64_t position_ = 0;
  size_t read_length_ = 0;
  bool continues_ = false;
  std::shared_ptr<CallOrder> order_;
  uint64_t ticket_ = 0;
  // Whether Execute() ran (and so gave its ticket back), or libuv cancelled the call before it started.
  bool executed_ = false;
  bool copy_out_ = false;
  // Bytes read (and given to the core) so far by a kReadFile call.
  size_t bytes_read_ = 0;
  // An I/O error's libuv name (EIO, EBADF, ...), used as its code like Node's fs errors do.
  std::string read_error_;

  // The core appends to out_ (a borrowed scratch vector); a large update output is then copied into
  // block_, which passes to the Buffer made from it.
  std::vector<uint8_t> out_;
  OutputBlock* block_ = nullptr;
  Digests digests_{};
  const char* error_code_ = nullptr;
  std::string error_message_;
};

}  // namespace addon
}  // namespace fastlayer
