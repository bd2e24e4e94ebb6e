// gzipMembers(level, views, sizes, threads): many independent gzip members in one worker call
// (native/core/members.h), for the eStargz writer (src/estargz/members.ts).
#pragma once
#include <napi.h>

namespace fastlayer {
namespace addon {

Napi::Value GzipMembersFunction(const Napi::CallbackInfo& info);

}  // namespace addon
}  // namespace fastlayer
