// Module entry: exports { Pipeline, info, sha256, poolStats } (docs/DESIGN.md, "Native addon API").
#include <isa-l.h>
#include <napi.h>
#include <zlib.h>

#include <atomic>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#endif
#if defined(__GLIBC__) && defined(__x86_64__)
// glibc 2.34 moved dlopen and dladdr into libc under a new version; the original versions are still
// exported by every glibc, so binding to them keeps the prebuild's requirement at glibc 2.32.
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dladdr,dladdr@GLIBC_2.2.5");
#endif

#include "addon_members.h"
#include "addon_pipeline.h"
#include "addon_sha256.h"
#include "block_pool.h"
#include "format.h"
#include "sha256.h"
#include "zstd_frames.h"

#ifndef FASTLAYER_FINGERPRINT
#error "FASTLAYER_FINGERPRINT must be defined by the build (node scripts/find-libs.cjs fingerprint)"
#endif

namespace fastlayer {
namespace addon {
namespace {

Napi::Object MakeInfo(Napi::Env env) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("format", Napi::Number::New(env, kFormatVersion));
  info.Set("blockSize", Napi::Number::New(env, static_cast<double>(kBlockSize)));
  // The ISA-L the addon was compiled against (isa-l.h); static and shared builds come from the
  // same package, so this is also the code that runs.
  info.Set("isal", std::to_string(ISAL_MAJOR_VERSION) + "." + std::to_string(ISAL_MINOR_VERSION) +
                       "." + std::to_string(ISAL_PATCH_VERSION));
  info.Set("zlib", zlibVersion());
  info.Set("zstd", ZstdVersion());
  info.Set("zstdFrameSize", Napi::Number::New(env, static_cast<double>(kZstdFrameSize)));
  // Read once at load time: FASTLAYER_SHA256=portable is honoured from here on.
  info.Set("sha256", Sha256Implementation());
  info.Set("fingerprint", FASTLAYER_FINGERPRINT);
  info.Set("maxThreads", Napi::Number::New(env, kMaxThreads));
  // A readFile() that continues the one in flight may be made before that one resolves
  // (addon_call_order.h).
  info.Set("queuedReads", Napi::Boolean::New(env, true));
  info.Freeze();
  return info;
}

// Test helper: { threads, helperUnits } of the process-wide block pool.
Napi::Value PoolStatsFunction(const Napi::CallbackInfo& info) {
  const PoolStats stats = GetPoolStats();
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("threads", Napi::Number::New(info.Env(), static_cast<double>(stats.threads)));
  result.Set("helperUnits", Napi::Number::New(info.Env(), static_cast<double>(stats.helper_units)));
  return result;
}

// Node unloads an addon when the last environment that loaded it goes (a worker thread exits while
// the main thread never loaded it). The process-wide state lives on (helper threads of the block
// pool and their ISA-L states, the output block cache): unloading would leak it on every worker
// lifetime (~120 KB measured here with threads: 4, ~300 KB reported), and a new load would build it
// again. So the library keeps a reference to itself, marked RTLD_NODELETE, and stays mapped for the
// life of the process like any addon the main thread loads. Best effort: if dladdr/dlopen fail, the
// addon still works.
void KeepLoaded() {
#if defined(RTLD_NODELETE) && defined(RTLD_NOLOAD)
  // An atomic flag rather than std::call_once: call_once reaches libstdc++'s thread-local state, which
  // would make the prebuild need the dynamic loader's TLS (__tls_get_addr, NEEDED ld-linux).
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  Dl_info self{};
  if (dladdr(reinterpret_cast<void*>(&KeepLoaded), &self) != 0 && self.dli_fname != nullptr) {
    // NOLOAD: a reference to the copy already mapped, never a second copy; never dlclose()d.
    dlopen(self.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
  }
#endif
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  KeepLoaded();
  exports.Set("Pipeline", PipelineWrap::Define(env));
  exports.Set("info", MakeInfo(env));
  exports.Set("sha256", Napi::Function::New(env, Sha256Function, "sha256"));
  exports.Set("poolStats", Napi::Function::New(env, PoolStatsFunction, "poolStats"));
  exports.Set("gzipMembers", Napi::Function::New(env, GzipMembersFunction, "gzipMembers"));
  exports.Set("MemberDigests", MemberDigestsClass(env));
  // gzipMembers takes file marks (its seventh argument) and returns the digests of the files they end.
  exports.Set("gzipMembersFiles", Napi::Boolean::New(env, true));
  return exports;
}

}  // namespace addon
}  // namespace fastlayer

// The macro needs an unqualified name.
static Napi::Object InitFastlayer(Napi::Env env, Napi::Object exports) {
  return fastlayer::addon::Init(env, exports);
}

NODE_API_MODULE(fastlayer, InitFastlayer)
