#include "zstd_frames.h"

// The experimental parameters (row match finder) are available because libzstd is linked statically.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include <new>
#include <stdexcept>
#include <string>

// libzstd calls these tracing hooks when some library in the process defines them (they are weak
// references in libzstd.a): defined here, hidden, so no other library's hooks can be bound to ours.
// Returning 0 turns tracing off, so the end hook is never called.
extern "C" {
unsigned long long ZSTD_trace_compress_begin(const ZSTD_CCtx*) { return 0; }
void ZSTD_trace_compress_end(unsigned long long, const void*) {}
}

namespace fastlayer {

struct ZstdFrameCompressor::State {
  ZSTD_CCtx* cctx = nullptr;
};

namespace {

// libzstd wants a valid pointer even for zero bytes.
constexpr uint8_t kEmpty = 0;

void Check(size_t result, const char* what) {
  if (!ZSTD_isError(result)) return;
  if (ZSTD_getErrorCode(result) == ZSTD_error_memory_allocation) throw std::bad_alloc();
  throw std::runtime_error(std::string("fastlayer: zstd ") + what + ": " + ZSTD_getErrorName(result));
}

// Every parameter that changes the bytes and that libzstd could choose differently by build or by
// CPU is set here, so the frames depend only on (input, level, libzstd version).
void Configure(ZSTD_CCtx* cctx, int level) {
  Check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level), "level");
  Check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1), "checksum flag");
  // No content size: the frame header is the same whether or not a tool knows the length ahead.
  Check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0), "content size flag");
  Check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 0), "workers");
  // Long-distance matching is switched on by libzstd for large windows at high levels: never here.
  Check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, ZSTD_ps_disable), "ldm");
  // Its default depends on how libzstd was compiled (SIMD or not): pinned for greedy to lazy2.
  Check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_useRowMatchFinder, ZSTD_ps_enable), "row match finder");
}

}  // namespace

ZstdFrameCompressor::ZstdFrameCompressor(int level) : state_(new State) {
  if (level < kZstdMinLevel || level > kZstdMaxLevel) {
    delete state_;
    throw std::invalid_argument("fastlayer: zstd compression level must be an integer from 1 to 19");
  }
  state_->cctx = ZSTD_createCCtx();
  if (state_->cctx == nullptr) {
    delete state_;
    throw std::bad_alloc();
  }
  try {
    Configure(state_->cctx, level);
  } catch (...) {
    ZSTD_freeCCtx(state_->cctx);
    delete state_;
    throw;
  }
}

ZstdFrameCompressor::~ZstdFrameCompressor() {
  ZSTD_freeCCtx(state_->cctx);
  delete state_;
}

void ZstdFrameCompressor::Compress(const uint8_t* data, size_t len, std::vector<uint8_t>* out) {
  const size_t start = out->size();
  const size_t bound = ZSTD_compressBound(len);
  out->resize(start + bound);
  // One-shot: the parameters libzstd derives from the level also depend on the frame's length,
  // which is known here (kZstdFrameSize, or the rest at the end).
  const size_t written = ZSTD_compress2(state_->cctx, out->data() + start, bound, len == 0 ? static_cast<const void*>(&kEmpty) : data, len);
  if (ZSTD_isError(written)) {
    out->resize(start);
    // A failed call leaves the context mid-frame: start the next frame afresh, keeping the parameters.
    ZSTD_CCtx_reset(state_->cctx, ZSTD_reset_session_only);
    Check(written, "compression");
  }
  out->resize(start + written);
}

size_t ZstdFrameCompressor::MemoryUsage() const { return ZSTD_sizeof_CCtx(state_->cctx); }

const char* ZstdVersion() { return ZSTD_versionString(); }

}  // namespace fastlayer
