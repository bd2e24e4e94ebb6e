// Sanitizer / reproducibility driver for the C++ core (no Node). Usage:
//   driver selftest                 block pool contract, reference SHA-256 against NIST, constructor contract
//   driver sha N                    N random SHA-256 checks (both dispatch paths), N of two streams at once
//   driver random SEED SECONDS      random inputs, levels and chunkings until SECONDS have passed
//   driver zstd SEED SECONDS        zstd mode: random inputs (some across frames), levels 1-19 and
//                                   chunkings; libzstd round trip, same bytes on 1-4 threads
//   driver replay PATH...           fuzz inputs (files, or directories of files), e.g. fuzz/regressions
//   driver vectors [--quick]        the test-vector table as JSON on stdout
//   driver addresses PATH...        (plain build only) each fuzz input with ISA-L's stream state at
//                                   1024 addresses 64 KiB apart: output must not change
//   driver addresses-random SEED N  the same for N generated small inputs at levels 1-2
// Exit status 0 means every check passed; any failure aborts with a message.
#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef FASTLAYER_ADDRESS_PROBE
#include "address_probe.h"
#endif
#include "block_pool.h"
#include "format.h"
#include "harness.h"
#include "members_check.h"
#include "ref_sha256.h"
#include "sha256.h"
#include "vectors.h"
#include "zstd_check.h"

using namespace reftest;

namespace {

#if defined(__x86_64__)
bool HasShaNi() {
  unsigned a, b, c, d;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

// The block pool's contract (block_pool.h): every index once, thread numbers in range, and a failure
// in work or in caller_first comes back to the caller only after every started index has finished
// (ASan/TSan runs would catch a helper touching the caller's frame afterwards).
void PoolSelfTest() {
  for (const size_t helpers : {size_t{0}, size_t{1}, size_t{3}, fastlayer::kMaxHelpers}) {
    std::atomic<int> seen[64] = {};
    std::atomic<bool> first_ran{false};
    fastlayer::RunUnits(
        64, helpers,
        [&](size_t i, size_t thread) {
          if (thread > fastlayer::kMaxHelpers) Fail("pool: thread number %zu", thread);
          seen[i].fetch_add(1);
        },
        [&] { first_ran = true; });
    for (size_t i = 0; i < 64; ++i) {
      if (seen[i].load() != 1) Fail("pool: index %zu ran %d times with %zu helpers", i, seen[i].load(), helpers);
    }
    if (!first_ran) Fail("pool: caller_first did not run");
  }
  for (const bool in_first : {false, true}) {
    std::atomic<int> running{0};
    bool threw = false;
    try {
      fastlayer::RunUnits(
          32, 3,
          [&](size_t i, size_t) {
            running.fetch_add(1);
            if (!in_first && i == 5) {
              running.fetch_sub(1);
              throw std::runtime_error("unit 5");
            }
            for (volatile int spin = 0; spin < 100000; spin = spin + 1) {
            }
            running.fetch_sub(1);
          },
          [&] {
            if (in_first) throw std::runtime_error("caller_first");
          });
    } catch (const std::runtime_error&) {
      threw = true;
    }
    if (!threw) Fail("pool: a failure in %s was not rethrown", in_first ? "caller_first" : "work");
    if (running.load() != 0) Fail("pool: RunUnits returned while %d units were still running", running.load());
  }
}

void SelfTest() {
  PoolSelfTest();
  const std::string million(1000000, 'a');
  const struct { std::string msg; const char* hex; } nist[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& v : nist) {
    const auto got = RefSha256(reinterpret_cast<const uint8_t*>(v.msg.data()), v.msg.size());
    if (Hex(got.data(), 32) != v.hex) Fail("reference SHA-256 is wrong for a NIST vector of %zu bytes", v.msg.size());
    // The core's own SHA-256 too, on both dispatch paths, whole and in uneven pieces that straddle
    // its 64-byte buffer: on a CPU where the accelerated path is new this is its first check.
    for (const bool portable : {false, true}) {
      for (const size_t piece : {v.msg.size() + 1, size_t{7}, size_t{1000}}) {
        fastlayer::Sha256 h(portable);
        for (size_t at = 0; at < v.msg.size(); at += piece)
          h.Update(reinterpret_cast<const uint8_t*>(v.msg.data()) + at, std::min(piece, v.msg.size() - at));
        uint8_t out[32];
        h.Final(out);
        if (Hex(out, 32) != v.hex)
          Fail("core SHA-256 (%s, pieces of %zu) is wrong for a NIST vector of %zu bytes",
               portable ? "portable" : fastlayer::Sha256Implementation(), piece, v.msg.size());
      }
    }
  }
  for (int level : {-1, 10, 100}) {
    bool threw = false;
    try {
      fastlayer::Pipeline p(level, fastlayer::Mode::kGzip);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    if (!threw) Fail("Pipeline(%d) did not throw std::invalid_argument", level);
  }
  // The CPU features decide ISA-L's and SHA-256's code paths: print them so that runs under
  // qemu -cpu MODEL show which paths were exercised.
#if defined(__x86_64__)
  __builtin_cpu_init();
  std::printf("selftest ok (sha256 dispatch: %s, block size %zu, cpu:%s%s%s%s%s)\n",
              fastlayer::Sha256Implementation(), fastlayer::kBlockSize,
              __builtin_cpu_supports("sse4.2") ? " sse4.2" : "", __builtin_cpu_supports("avx") ? " avx" : "",
              __builtin_cpu_supports("avx2") ? " avx2" : "", __builtin_cpu_supports("avx512f") ? " avx512f" : "",
              HasShaNi() ? " sha" : "");
#elif defined(__aarch64__) && defined(__linux__)
  // ISA-L's aarch64 igzip picks its assembly by HWCAP_CRC32, the SHA-256 by HWCAP_SHA2.
  const unsigned long hw = getauxval(AT_HWCAP);
  std::printf("selftest ok (sha256 dispatch: %s, block size %zu, cpu:%s%s%s%s)\n",
              fastlayer::Sha256Implementation(), fastlayer::kBlockSize, (hw & HWCAP_ASIMD) ? " asimd" : "",
              (hw & HWCAP_CRC32) ? " crc32" : "", (hw & HWCAP_PMULL) ? " pmull" : "",
              (hw & HWCAP_SHA2) ? " sha2" : "");
#else
  std::printf("selftest ok (sha256 dispatch: %s, block size %zu)\n", fastlayer::Sha256Implementation(),
              fastlayer::kBlockSize);
#endif
}

size_t PickSize(Mulberry32& rng) {
  const size_t b = fastlayer::kBlockSize;
  switch (rng.Next() % 6) {
    case 0: return rng.Next() % 64;
    case 1: return rng.Next() % 70000;
    case 2: {
      const size_t center = (rng.Next() % 4) * b;
      const size_t delta = rng.Next() % 140001;
      return center + delta >= 70000 ? center + delta - 70000 : rng.Next() % 100;
    }
    case 3: return (rng.Next() % 5) * b;
    case 4: return rng.Next() % (2u << 20);
    default: return rng.Next() % 32 == 0 ? rng.Next() % (8u << 20) : rng.Next() % (b + 1);
  }
}

void Generate(Mulberry32& rng, size_t n, std::vector<uint8_t>* in) {
  switch (rng.Next() % 4) {
    case 0: GenRandom(rng.Next(), n, in); break;
    case 1: GenText(rng.Next(), n, in); break;
    case 2: GenMixed(rng.Next(), n, in); break;
    default: GenZeros(n, in); break;
  }
}

void RandomRuns(uint32_t seed, double seconds) {
  Mulberry32 rng(seed);
  const auto start = std::chrono::steady_clock::now();
  size_t cases = 0, bytes = 0;
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  do {
    std::vector<uint8_t> in;
    Generate(rng, PickSize(rng), &in);
    const int level = static_cast<int>(rng.Next() % 11) - 1;  // -1 is kNone
    fastlayer::ForcePortableSha256(rng.Next() % 4 == 0);
    std::vector<Chunking> chunkings{RandomChunking(rng, in.size(), rng.Next()),
                                    RandomChunking(rng, in.size(), rng.Next()), {in.size()}};
    const std::string context = "random seed " + std::to_string(seed) + " case " + std::to_string(cases);
    CheckCase(in.data(), in.size(), level, chunkings, context.c_str());
    // A flush point taken from the case number, not from rng: a seed's cases stay what they were.
    CheckFlush(in.data(), in.size(), level, (cases * 2654435761u + in.size() / 3) % (in.size() + 1), chunkings[0]);
    fastlayer::ForcePortableSha256(false);
    if (cases % 8 == 0) CheckSha256Once(rng, 5000);
    ++cases;
    bytes += in.size();
  } while (elapsed() < seconds);
  std::printf("random ok: seed %u, %zu cases, %.1f MiB of input, %.1f s\n", seed, cases, bytes / 1048576.0, elapsed());
}

std::vector<std::string> ListInputs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) Fail("cannot stat %s", path.c_str());
  if (!S_ISDIR(st.st_mode)) return {path};
  std::vector<std::string> files;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      // README and dot files document the folder; everything else is an input.
      if (name[0] != '.' && name.rfind("README", 0) != 0) files.push_back(path + "/" + name);
    }
    closedir(d);
  }
  return files;
}

void Replay(int argc, char** argv) {
  size_t count = 0;
  for (int i = 0; i < argc; ++i) {
    for (const auto& file : ListInputs(argv[i])) {
      std::ifstream f(file, std::ios::binary);
      const std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      RunFuzzInputAnyMode(data.data(), data.size());
      ++count;
    }
  }
  std::printf("replay ok: %zu inputs\n", count);
}

#ifdef FASTLAYER_ADDRESS_PROBE
// Output must depend on the input only, not on where the compressor state lives in memory.
// Returns the number of addresses that gave different bytes.
size_t ProbeAddresses(const uint8_t* in, size_t n, int level, const Chunking& chunks, const std::string& what) {
  const Run reference = RunPipeline(in, n, level, chunks);
  size_t bad = 0;
  for (size_t offset = 0; offset < kProbeArenaSpan; offset += 64 * 1024) {
    if (!PlaceIsalStreamAt(offset)) Fail("cannot map the probe arena");
    const Run run = RunPipeline(in, n, level, chunks);
    ClearPlacement();
    if (run.out != reference.out) {
      if (bad++ == 0)
        std::printf("%s (level %s, %zu bytes): %zu output bytes with isal_zstream at arena+0x%zx, %zu elsewhere\n",
                    what.c_str(), LevelName(level), n, run.out.size(), offset, reference.out.size());
    }
  }
  return bad;
}

int Addresses(int argc, char** argv) {
  size_t cases = 0, failing = 0;
  for (int i = 0; i < argc; ++i) {
    for (const auto& file : ListInputs(argv[i])) {
      std::ifstream f(file, std::ios::binary);
      const std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      const FuzzCase c = DecodeFuzzInput(data.data(), data.size());
      if (c.level != 1 && c.level != 2) continue;  // only ISA-L keeps state whose address matters
      ++cases;
      if (ProbeAddresses(c.input.data(), c.input.size(), c.level, c.chunkings[0], file)) ++failing;
    }
  }
  std::printf("addresses: %zu of %zu inputs (levels 1-2) depend on the address\n", failing, cases);
  return failing ? 1 : 0;
}

int AddressesRandom(uint32_t seed, long count) {
  Mulberry32 rng(seed);
  size_t failing = 0;
  for (long i = 0; i < count; ++i) {
    std::vector<uint8_t> in;
    Generate(rng, rng.Next() % 2048, &in);
    const int level = 1 + static_cast<int>(rng.Next() % 2);
    const std::string what = "random seed " + std::to_string(seed) + " case " + std::to_string(i);
    if (ProbeAddresses(in.data(), in.size(), level, {in.size()}, what)) ++failing;
  }
  std::printf("addresses-random: %zu of %ld inputs depend on the address\n", failing, count);
  return failing ? 1 : 0;
}
#endif

int Usage() {
  std::fprintf(stderr, "usage: driver selftest | sha N | random SEED SECONDS | zstd SEED SECONDS | members SEED SECONDS | replay PATH... | vectors [--quick]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string cmd = argv[1];
  if (cmd == "selftest") {
    SelfTest();
  } else if (cmd == "sha" && argc == 3) {
    Mulberry32 rng(12345);
    const long n = std::atol(argv[2]);
    for (long i = 0; i < n; ++i) CheckSha256Once(rng, i % 10 == 0 ? 300000 : 3000);
    for (long i = 0; i < 2 * n; ++i) CheckSha256SharedOnce(rng, i % 10 == 0 ? 300000 : 3000);
    std::printf("sha ok: %ld messages\n", n);
  } else if (cmd == "random" && argc == 4) {
    RandomRuns(static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 0)), std::atof(argv[3]));
  } else if (cmd == "zstd" && argc == 4) {
    ZstdRandomRuns(static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 0)), std::atof(argv[3]));
  } else if (cmd == "members" && argc == 4) {
    MembersRandomRuns(static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 0)), std::atof(argv[3]));
  } else if (cmd == "replay") {
    Replay(argc - 2, argv + 2);
  } else if (cmd == "vectors" && (argc == 2 || (argc == 3 && std::string(argv[2]) == "--quick"))) {
    WriteVectors(stdout, argc == 3);
#ifdef FASTLAYER_ADDRESS_PROBE
  } else if (cmd == "addresses") {
    return Addresses(argc - 2, argv + 2);
  } else if (cmd == "addresses-random" && argc == 4) {
    return AddressesRandom(static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 0)), std::atol(argv[3]));
#endif
  } else {
    return Usage();
  }
  return 0;
}
