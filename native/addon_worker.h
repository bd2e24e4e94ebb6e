// One update() or finish() call: runs the C++ core on a libuv worker thread and settles the promise
// on the main thread. Execute() makes no Node-API calls.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"

namespace fastlayer {
namespace addon {

class PipelineWrap;

class PipelineWorker : public Napi::AsyncWorker {
 public:
  enum class Op { kUpdate, kFinish };

  // `owner` is the JS object of `wrap`; `chunk` (update only) is the view whose bytes [data,
  // data+len) are read on the worker thread. Both are referenced until the call completes.
  PipelineWorker(Napi::Env env, Op op, Napi::Object owner, PipelineWrap* wrap,
                 std::shared_ptr<Pipeline> core, napi_deferred deferred, Napi::Value chunk,
                 const uint8_t* data, size_t len);

 protected:
  void Execute() override;
  // Always used to settle, also on failure: errors are recorded by Execute() rather than passed
  // to SetError(), so that settling never goes through code paths that throw.
  void OnOK() override;

 private:
  napi_value MakeUpdateResult(napi_env env);
  napi_value MakeFinishResult(napi_env env);

  const Op op_;
  Napi::ObjectReference owner_;
  PipelineWrap* wrap_;
  std::shared_ptr<Pipeline> core_;
  napi_deferred deferred_;
  Napi::Reference<Napi::Value> chunk_;
  const uint8_t* data_;
  size_t len_;

  std::vector<uint8_t> out_;
  Digests digests_{};
  const char* error_code_ = nullptr;
  std::string error_message_;
};

}  // namespace addon
}  // namespace fastlayer
