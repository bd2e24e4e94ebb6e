// gzipMembers(level, views, sizes, threads, hashLengths, digests?): many independent gzip members in
// one worker call, and the class MemberDigests that hashes the calls' bytes in order
// (native/core/members.h), for the eStargz writer (src/estargz/members.ts).
#pragma once
#include <napi.h>

namespace fastlayer {
namespace addon {

Napi::Value GzipMembersFunction(const Napi::CallbackInfo& info);
Napi::Function MemberDigestsClass(Napi::Env env);

}  // namespace addon
}  // namespace fastlayer
