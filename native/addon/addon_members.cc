// gzipMembers(level: 0..9, views: Uint8Array[], sizes: Float64Array | number[], threads: 1..16,
//             hashLengths: Float64Array | number[], digests?: MemberDigests, fileMarks?: Float64Array | number[])
//   -> Promise<{ out: Buffer, sizes: Float64Array, digests: Buffer }>
// The views are laid end to end on the worker thread, which reads them there: the call holds the
// array of views (and so the views) until it settles, and the caller must change neither the array
// nor the views' bytes until then, nor transfer or detach their buffers (Node-API cannot pin a backing
// store: addon_input.h). The eStargz writer passes only buffers of its own, never handed to anyone
// (its private copy of the source's chunks, headers it made), so the main thread copies nothing. sizes
// cut that input into members (they must add up to its length). The worker compresses every member alone and the promise
// resolves with the members end to end (laid out on the worker: the Buffer is the worker's memory, not
// a copy), the size of each, and the SHA-256 of each member's first
// hashLengths[i] bytes (32 bytes each). With `digests`, the call also adds its input and its members
// to that object's two running SHA-256 (diffID and blob) in the order the calls were made, and
// fileMarks (one per member, FileMark of members.h: 0 none, 1 a file's first chunk, 2 a middle one,
// 3 its last) make it hash each marked prefix into a file's digest as well: `digests` then holds, after
// the members' 32 bytes each, one more 32 for each member marked 3. Marks that do not go on from the
// calls before are refused (ERR_OUT_OF_RANGE) before anything is queued.
// new MemberDigests(); .finish(tail: Uint8Array) -> { digest: Buffer, diffID: Buffer, hashSeconds,
// inputHashSeconds, blobHashSeconds: number } | undefined: once every call made with it has settled,
// the blob digest (with `tail`, the eStargz footer, after the members), the diffID, and the seconds
// each of the two hash stages was busy (input, blob: each a stage of one call at a time,
// MemberDigests::HashSeconds), hashSeconds the busier; undefined when a call failed or is still
// running, or after the first finish.
#include "addon_members.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon_errors.h"
#include "deflate.h"
#include "members.h"
#include "pipeline.h"

namespace fastlayer {
namespace addon {
namespace {

// A view's bytes, read on the worker while the call holds the view.
struct Span {
  const uint8_t* data;
  size_t len;
};

const napi_type_tag kDigestsTag = {0x6661737466696c65ULL, 0x6d656d6265727301ULL};

class MemberDigestsWrap : public Napi::ObjectWrap<MemberDigestsWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MemberDigests", {InstanceMethod<&MemberDigestsWrap::Finish>("finish")});
  }
  explicit MemberDigestsWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<MemberDigestsWrap>(info), digests_(std::make_shared<MemberDigests>()) {
    info.This().As<Napi::Object>().TypeTag(&kDigestsTag);
  }
  const std::shared_ptr<MemberDigests>& digests() const { return digests_; }

 private:
  Napi::Value Finish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: the tail must be a Uint8Array");
    }
    Napi::Uint8Array tail = info[0].As<Napi::Uint8Array>();
    uint8_t blob[32];
    uint8_t diff[32];
    if (!digests_->Finish(tail.Data(), tail.ByteLength(), blob, diff)) return env.Undefined();
    Napi::Object result = Napi::Object::New(env);
    result.Set("digest", Napi::Buffer<uint8_t>::Copy(env, blob, 32));
    result.Set("diffID", Napi::Buffer<uint8_t>::Copy(env, diff, 32));
    const MemberDigests::Busy busy = digests_->HashSeconds();
    result.Set("hashSeconds", Napi::Number::New(env, std::max(busy.input, busy.blob)));
    result.Set("inputHashSeconds", Napi::Number::New(env, busy.input));
    result.Set("blobHashSeconds", Napi::Number::New(env, busy.blob));
    return result;
  }

  std::shared_ptr<MemberDigests> digests_;
};

class MembersWorker : public Napi::AsyncWorker {
 public:
  // `views` holds the memory of `spans` (total bytes in all) until the call settles; `ticket` is the
  // stream's Take() for this call (0 without a stream).
  MembersWorker(Napi::Env env, int level, Napi::Array views, std::vector<Span> spans, size_t total,
                std::vector<size_t> sizes, std::vector<size_t> hash_lens, std::vector<uint8_t> marks, size_t helpers,
                std::shared_ptr<MemberDigests> stream, uint64_t ticket)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), level_(level),
        views_(Napi::Persistent(views.As<Napi::Object>())), spans_(std::move(spans)), total_(total), sizes_(std::move(sizes)),
        hash_lens_(std::move(hash_lens)), marks_(std::move(marks)), helpers_(helpers), stream_(std::move(stream)),
        ticket_(ticket) {}

  // A call that never ran (its work cancelled) must still pass its turn, or later calls would wait.
  ~MembersWorker() override {
    if (stream_ && !executed_) stream_->Skip(ticket_);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    executed_ = true;
    bool added = false;
    try {
      std::unique_ptr<uint8_t[]> data(new uint8_t[total_ == 0 ? 1 : total_]);
      size_t at = 0;
      for (const Span& v : spans_) {
        if (v.len > 0) std::memcpy(data.get() + at, v.data, v.len);
        at += v.len;
      }
      // With a MemberDigests, the chunk digests are taken in its pass over the input, with the diffID.
      GzipMembers(level_, data.get(), sizes_, hash_lens_, helpers_, &outs_, stream_ ? nullptr : &digests_);
      if (stream_) {
        added = true;
        stream_->Add(ticket_, data.get(), sizes_, hash_lens_, marks_, outs_, &digests_);
      }
      // The members end to end, here rather than on the main thread.
      for (const auto& o : outs_) out_len_ += o.size();
      out_.reset(new uint8_t[out_len_ == 0 ? 1 : out_len_]);
      at = 0;
      for (auto& o : outs_) {
        if (!o.empty()) std::memcpy(out_.get() + at, o.data(), o.size());
        at += o.size();
        out_sizes_.push_back(o.size());
        std::vector<uint8_t>().swap(o);
      }
    } catch (const std::bad_alloc&) {
      error_code_ = codes::kNoMemory;
      error_ = "fastlayer: out of memory compressing gzip members";
    } catch (const std::exception& e) {
      error_code_ = codes::kInternal;
      error_ = e.what();
    }
    if (stream_ && !added) stream_->Skip(ticket_);
  }

  void OnOK() override {
    napi_env env = Env();
    if (!error_.empty()) {
      napi_value err = MakeError(env, ErrorKind::kError, error_code_, error_);
      if (err != nullptr) deferred_.Reject(Napi::Value(env, err));
      return;
    }
    views_.Reset();
    // A Float64Array: one allocation, not a Set per member.
    Napi::Float64Array sizes = Napi::Float64Array::New(env, out_sizes_.size());
    for (size_t i = 0; i < out_sizes_.size(); i++) sizes[i] = static_cast<double>(out_sizes_[i]);
    Napi::Object result = Napi::Object::New(env);
    result.Set("out", TakeOutput(env));
    result.Set("sizes", sizes);
    result.Set("digests", Napi::Buffer<uint8_t>::Copy(env, digests_.data(), digests_.size()));
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  // The joined members as a Buffer over the worker's memory (V8 counts its length like any Buffer's,
  // and the finalizer frees it); copied where external buffers are refused.
  Napi::Value TakeOutput(napi_env env) {
    napi_value value = nullptr;
    uint8_t* bytes = out_.get();
    if (out_len_ > 0 &&
        napi_create_external_buffer(env, out_len_, bytes, [](napi_env, void* data, void*) { delete[] static_cast<uint8_t*>(data); },
                                    nullptr, &value) == napi_ok) {
      out_.release();
      return Napi::Value(env, value);
    }
    return Napi::Buffer<uint8_t>::Copy(env, bytes, out_len_);
  }

  Napi::Promise::Deferred deferred_;
  const int level_;
  Napi::ObjectReference views_;
  const std::vector<Span> spans_;
  const size_t total_;
  const std::vector<size_t> sizes_;
  const std::vector<size_t> hash_lens_;
  const std::vector<uint8_t> marks_;
  const size_t helpers_;
  const std::shared_ptr<MemberDigests> stream_;
  const uint64_t ticket_;
  bool executed_ = false;
  std::vector<std::vector<uint8_t>> outs_;
  std::unique_ptr<uint8_t[]> out_;
  size_t out_len_ = 0;
  std::vector<size_t> out_sizes_;
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

// The numbers of a Float64Array (copied at once) or of an array (element by element; a non-number
// reads as -1, which every caller refuses). False for anything else.
bool Numbers(napi_env env, napi_value v, std::vector<double>* out) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) == napi_ok) {
    if (type != napi_float64_array) return false;
    const auto* d = static_cast<const double*>(data);
    out->assign(d, d + length);
    return true;
  }
  bool is_array = false;
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array) return false;
  uint32_t n = 0;
  napi_get_array_length(env, v, &n);
  out->assign(n, -1);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e = nullptr;
    double d = -1;
    if (napi_get_element(env, v, i, &e) == napi_ok && napi_get_value_double(env, e, &d) == napi_ok) (*out)[i] = d;
  }
  return true;
}

}  // namespace

Napi::Function MemberDigestsClass(Napi::Env env) { return MemberDigestsWrap::Define(env); }

Napi::Value GzipMembersFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int level = IntArg(info, 0, "level", 0, 9);
  const int threads = IntArg(info, 3, "threads", 1, kMaxThreads);
  if (!info[1].IsArray()) ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: views must be an array");
  Napi::Array views_arg = info[1].As<Napi::Array>();
  std::shared_ptr<MemberDigests> stream;
  if (!info[5].IsUndefined()) {
    if (!info[5].IsObject() || !info[5].As<Napi::Object>().CheckTypeTag(&kDigestsTag)) {
      ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: digests must be a MemberDigests");
    }
    stream = MemberDigestsWrap::Unwrap(info[5].As<Napi::Object>())->digests();
  }
  // A batch has hundreds of views: one napi_get_typedarray_info each (it tells a Uint8Array, its
  // length and its bytes at once) rather than node-addon-api's several calls per view.
  const uint32_t count = views_arg.Length();
  std::vector<Span> spans(count);
  size_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value v = nullptr;
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    void* data = nullptr;
    if (napi_get_element(env, views_arg, i, &v) != napi_ok ||
        napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
      ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: every view must be a Uint8Array");
    }
    spans[i] = {static_cast<const uint8_t*>(data), length};
    total += length;
  }
  std::vector<double> numbers;
  if (!Numbers(env, info[2], &numbers)) ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: sizes must be an array or a Float64Array");
  std::vector<size_t> sizes(numbers.size());
  size_t sum = 0;
  for (size_t i = 0; i < numbers.size(); i++) {
    const double d = numbers[i];
    if (!(d >= 0 && d <= static_cast<double>(total)) || d != static_cast<double>(static_cast<size_t>(d))) {
      ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: member sizes must be integers within the input");
    }
    sizes[i] = static_cast<size_t>(d);
    sum += sizes[i];
  }
  if (sum != total) ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: member sizes must add up to the input length");
  if (!Numbers(env, info[4], &numbers)) {
    ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: hash lengths must be an array or a Float64Array");
  }
  if (numbers.size() != sizes.size()) ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: one hash length per member");
  std::vector<size_t> hash_lens(sizes.size());
  for (size_t i = 0; i < numbers.size(); i++) {
    const double d = numbers[i];
    if (!(d >= 0 && d <= static_cast<double>(sizes[i])) || d != static_cast<double>(static_cast<size_t>(d))) {
      ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: a hash length must be an integer within its member");
    }
    hash_lens[i] = static_cast<size_t>(d);
  }
  std::vector<uint8_t> marks;
  if (!info[6].IsUndefined()) {
    if (!stream || !Numbers(env, info[6], &numbers)) {
      ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType, "fastlayer: file marks must be an array or a Float64Array, given with a MemberDigests");
    }
    if (numbers.size() != sizes.size()) ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: one file mark per member");
    marks.resize(sizes.size());
    for (size_t i = 0; i < numbers.size(); i++) {
      const double d = numbers[i];
      if (!(d == kNoFile || d == kFileFirst || d == kFileMiddle || d == kFileLast)) {
        ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, "fastlayer: a file mark must be 0, 1, 2 or 3");
      }
      marks[i] = static_cast<uint8_t>(d);
    }
  }
  try {
    CheckMembersLevel(level);  // a level ISA-L cannot give the reference bytes for is refused here
  } catch (const UnsupportedCpu& e) {
    ThrowError(env, ErrorKind::kError, codes::kUnsupportedCpu, e.what());
  }
  // The ticket is taken here, after every other check: a call that threw never holds a turn.
  uint64_t ticket = 0;
  if (stream) {
    try {
      ticket = stream->Take(marks);
    } catch (const std::invalid_argument& e) {
      ThrowError(env, ErrorKind::kRangeError, codes::kOutOfRange, e.what());
    }
  }
  auto* worker = new MembersWorker(env, level, views_arg, std::move(spans), total, std::move(sizes), std::move(hash_lens),
                                   std::move(marks), static_cast<size_t>(threads - 1), std::move(stream), ticket);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace addon
}  // namespace fastlayer
