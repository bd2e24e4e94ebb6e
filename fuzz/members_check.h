// eStargz members (native/core/members.h) under the drivers: every member of a GzipMembers call must
// be the bytes a Pipeline gives that input alone, with the right prefix digest, on any helper count;
// MemberDigests must hash calls in ticket order while they run on several threads at once, and a
// skipped ticket must neither block the calls after it nor let Finish succeed.
#pragma once
#include <cstdint>

namespace reftest {

// driver members SEED SECONDS
void MembersRandomRuns(uint32_t seed, double seconds);

}  // namespace reftest
