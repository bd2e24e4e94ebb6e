// C baseline: the native engine's core (fastlayer::Pipeline) driven without Node, reading the file
// with 1 MiB read() calls. It does the same work as the addon, so its speed is the practical limit.
// THREADS (default 1) is the pipeline's thread count: 1 is the single-threaded loop the issue's
// goal is measured against; more shows what the same core does with helper threads and no Node.
// Usage: c-baseline FILE LEVEL gzip|none|zstd [THREADS]   -> one JSON line on stdout.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "pipeline.h"
#include "sha256.h"

namespace {

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[bytes[i] >> 4];
    s += kDigits[bytes[i] & 15];
  }
  return s;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "c-baseline: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) return Fail("usage: c-baseline FILE LEVEL gzip|none|zstd [THREADS]");
  const std::string mode_name = argv[3];
  if (mode_name != "gzip" && mode_name != "none" && mode_name != "zstd") return Fail("mode must be gzip, none or zstd");
  const auto mode = mode_name == "gzip" ? fastlayer::Mode::kGzip
                    : mode_name == "zstd" ? fastlayer::Mode::kZstd
                                          : fastlayer::Mode::kNone;
  const int level = std::atoi(argv[2]);
  const int threads = argc == 5 ? std::atoi(argv[4]) : 1;

  const int fd = open(argv[1], O_RDONLY);
  if (fd < 0) return Fail(std::string("open: ") + std::strerror(errno));
  constexpr size_t kReadSize = 1 << 20;
  // Page-aligned, as the addon's read buffer (native/addon/addon_input.h): malloc puts a 1 MiB
  // buffer at a page + 16 bytes, where the kernel's copy from the page cache runs 4-5x slower on
  // AMD EPYC, and the baseline would then measure that instead of the pipeline.
  constexpr std::align_val_t kPage{4096};
  const std::unique_ptr<uint8_t, void (*)(uint8_t*)> buffer(
      static_cast<uint8_t*>(::operator new(kReadSize, kPage)),
      [](uint8_t* p) { ::operator delete(p, kPage); });
  std::vector<uint8_t> out;
  out.reserve(2 * kReadSize);
  fastlayer::Digests result{};
  uint64_t bytes_in = 0;

  const auto start = std::chrono::steady_clock::now();
  try {
    fastlayer::Pipeline pipeline(level, mode, threads);
    for (;;) {
      const ssize_t n = read(fd, buffer.get(), kReadSize);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Fail(std::string("read: ") + std::strerror(errno));
      }
      if (n == 0) break;
      bytes_in += static_cast<uint64_t>(n);
      pipeline.Update(buffer.get(), static_cast<size_t>(n), &out);
      // The output would go to a registry or a file; here it is dropped (the pipeline already
      // hashed and counted it), keeping the buffer's capacity.
      out.clear();
    }
    pipeline.Finish(&out, &result);
  } catch (const std::exception& e) {
    return Fail(std::string("pipeline: ") + e.what());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fd);

  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  // Whole-process CPU time; start-up before the timed part is a few hundred microseconds at most.
  const double cpu_seconds = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
                             (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf(
      "{\"seconds\":%.6f,\"bytesIn\":%llu,\"size\":%llu,\"mbps\":%.2f,\"digest\":\"%s\",\"diffID\":\"%s\","
      "\"cpuSeconds\":%.6f,\"maxRSSKiB\":%ld,\"sha256\":\"%s\"}\n",
      seconds, static_cast<unsigned long long>(bytes_in), static_cast<unsigned long long>(result.size),
      seconds > 0 ? bytes_in / seconds / 1e6 : 0.0, Hex(result.digest, 32).c_str(),
      Hex(result.diff_id, 32).c_str(), cpu_seconds, usage.ru_maxrss, fastlayer::Sha256Implementation());
  return 0;
}
