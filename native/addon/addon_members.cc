// gzipMembers(level: 0..9, views: Uint8Array[], sizes: number[], threads: 1..16, hashLengths: number[])
//   -> Promise<{ out: Buffer, sizes: number[], digests: Buffer }>
// The views are copied (laid end to end) before the call returns; sizes cut that input into members
// (they must add up to its length). The worker compresses every member alone and the promise
// resolves with the members end to end, the size of each, and the SHA-256 of each member's first
// hashLengths[i] bytes (32 bytes each).
#include "addon_members.h"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "addon_errors.h"
#include "deflate.h"
#include "members.h"
#include "pipeline.h"

namespace fastlayer {
namespace addon {
namespace {

class MembersWorker : public Napi::AsyncWorker {
 public:
  MembersWorker(Napi::Env env, int level, std::unique_ptr<uint8_t[]> data, std::vector<size_t> sizes,
                std::vector<size_t> hash_lens, size_t helpers)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), level_(level),
        data_(std::move(data)), sizes_(std::move(sizes)), hash_lens_(std::move(hash_lens)), helpers_(helpers) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      GzipMembers(level_, data_.get(), sizes_, hash_lens_, helpers_, &outs_, &digests_);
    } catch (const std::bad_alloc&) {
      error_code_ = codes::kNoMemory;
      error_ = "fastlayer: out of memory compressing gzip members";
    } catch (const std::exception& e) {
      error_code_ = codes::kInternal;
      error_ = e.what();
    }
    data_.reset();
  }

  void OnOK() override {
    napi_env env = Env();
    if (!error_.empty()) {
      napi_value err = MakeError(env, ErrorKind::kError, error_code_, error_);
      if (err != nullptr) deferred_.Reject(Napi::Value(env, err));
      return;
    }
    size_t total = 0;
    for (const auto& o : outs_) total += o.size();
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, total);
    Napi::Array sizes = Napi::Array::New(env, outs_.size());
    size_t at = 0;
    for (size_t i = 0; i < outs_.size(); i++) {
      if (!outs_[i].empty()) std::memcpy(out.Data() + at, outs_[i].data(), outs_[i].size());
      at += outs_[i].size();
      sizes.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(outs_[i].size())));
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("out", out);
    result.Set("sizes", sizes);
    result.Set("digests", Napi::Buffer<uint8_t>::Copy(env, digests_.data(), digests_.size()));
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const int level_;
  std::unique_ptr<uint8_t[]> data_;
  const std::vector<size_t> sizes_;
  const std::vector<size_t> hash_lens_;
  const size_t helpers_;
  std::vector<std::vector<uint8_t>> outs_;
  std::vector<uint8_t> digests_;
  const char* error_code_ = codes::kInternal;
  std::string error_;
};

int IntArg(const Napi::CallbackInfo& info, size_t i, const char* name, int min, int max) {
  if (!info[i].IsNumber()) ThrowError(info.Env(), ErrorKind::kTypeError, codes::kInvalidArgType, std::string("fastlayer: ") + name + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= min && v <= max) || v != static_cast<int>(v)) {
    ThrowError(info.Env(), ErrorKind::kRangeError, codes::kOutOfRange,
               std::string("fastlayer: ") + name + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return static_cast<int>(v);
}

}  // namespace

Napi::Value GzipMembersFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int level = IntArg(info, 0, "level", 0, 9);
  const int threads = IntArg(info, 3, "threads", 1, kMaxThreads);
  if (!info[1].IsArray() || !info[2].IsArray() || !info[4].IsArray()) {
    ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: views, sizes and hash lengths must be arrays");
  }
  Napi::Array views = info[1].As<Napi::Array>();
  Napi::Array sizes_arg = info[2].As<Napi::Array>();
  size_t total = 0;
  for (uint32_t i = 0; i < views.Length(); i++) {
    Napi::Value v = views.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: every view must be a Uint8Array");
    }
    total += v.As<Napi::Uint8Array>().ByteLength();
  }
  std::vector<size_t> sizes(sizes_arg.Length());
  size_t sum = 0;
  for (uint32_t i = 0; i < sizes_arg.Length(); i++) {
    Napi::Value v = sizes_arg.Get(i);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= static_cast<double>(total)) || d != static_cast<double>(static_cast<size_t>(d))) {
      ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: member sizes must be integers within the input");
    }
    sizes[i] = static_cast<size_t>(d);
    sum += sizes[i];
  }
  if (sum != total) ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: member sizes must add up to the input length");
  Napi::Array hash_arg = info[4].As<Napi::Array>();
  if (hash_arg.Length() != sizes.size()) ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: one hash length per member");
  std::vector<size_t> hash_lens(sizes.size());
  for (uint32_t i = 0; i < hash_arg.Length(); i++) {
    Napi::Value v = hash_arg.Get(i);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= static_cast<double>(sizes[i])) || d != static_cast<double>(static_cast<size_t>(d))) {
      ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: a hash length must be an integer within its member");
    }
    hash_lens[i] = static_cast<size_t>(d);
  }
  try {
    NewDeflater(level);  // a level ISA-L cannot give the reference bytes for is refused here
  } catch (const UnsupportedCpu& e) {
    ThrowError(env, ErrorKind::kError, codes::kUnsupportedCpu, e.what());
  }
  std::unique_ptr<uint8_t[]> data(new uint8_t[total == 0 ? 1 : total]);
  size_t at = 0;
  for (uint32_t i = 0; i < views.Length(); i++) {
    Napi::Uint8Array v = views.Get(i).As<Napi::Uint8Array>();
    if (v.ByteLength() > 0) std::memcpy(data.get() + at, v.Data(), v.ByteLength());
    at += v.ByteLength();
  }
  auto* worker = new MembersWorker(env, level, std::move(data), std::move(sizes), std::move(hash_lens), static_cast<size_t>(threads - 1));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace addon
}  // namespace fastlayer
