// Loads the native addon: a local source build when present, else the committed prebuild (the same
// order as node-gyp-build, but a build that fails to load falls back to the prebuild instead of
// failing). When nothing loads, the caller falls back to the pure-TypeScript engine and this module
// emits one warning per process saying why and how to get the native engine.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BLOCK_SIZE, FORMAT_VERSION } from './format.js';
import { addonCandidates, prebuildPlatform, type AddonCandidate } from './native-resolve.js';

export interface NativePipeline {
  /**
   * One threadpool call for all the views, consumed in order as their concatenation would be. The
   * bytes are copied before the call is queued, so the views may be changed or detached at once.
   */
  update(chunk: Uint8Array | readonly Uint8Array[]): Promise<Buffer>;
  /**
   * Like update(), with up to `length` bytes that the worker thread reads from `fd` at `position`
   * (-1: at the descriptor's current position). bytesRead < length only at the end of the file.
   * Read errors reject with the libuv code (EIO, EBADF, ...). With `continues` (info.queuedReads) it
   * must start where the last call, a readFile() of the same fd, ended (else ERR_OUT_OF_RANGE); it
   * reads nothing when that one reached the end of the file, and may be made while that one is in
   * flight: it is queued behind it and runs the moment it is done.
   */
  readFile(fd: number, position: number, length: number, continues?: boolean): Promise<{ out: Buffer; bytesRead: number }>;
  /**
   * A sync flush point: resolves with the bytes that make the output so far decode to all input so
   * far (gzip: the header and the partial unit; zstd: the current frame, ended early). Absent in
   * addons built before flush points existed.
   */
  flush?(): Promise<Buffer>;
  finish(): Promise<{ out: Buffer; digest: Buffer; diffID: Buffer; size: number }>;
  destroy(): void;
  /** Absent in addons built before it (engine_stats.h). */
  stats?(): NativeStats;
  /**
   * Whether the consumer of the outputs is behind: outputs made from now on are reported to the
   * collector as larger, so it runs sooner (memory only, never the bytes). Absent in older addons.
   */
  setConsumerSlow?(slow: boolean): void;
}

/** Where one pipeline's work went, as of its last completed call (native/core/engine_stats.h). */
export interface NativeStats {
  /** units[k]: units (gzip) or frames (zstd) compressed by thread k; 0 is the calling thread. */
  units: number[];
  /** Seconds hashing (SHA-256 and CRC-32) the input, on whichever thread hashed it. */
  inputHashSeconds: number;
  compressSeconds: number;
  /** Seconds hashing the output, on whichever thread hashed it. */
  outputHashSeconds: number;
  waitSeconds: number;
  /** Seconds the calling thread waited for the hash threads (absent in older addons). */
  hashWaitSeconds?: number;
  /**
   * Known from construction: true when the two hashes run on threads of their own and units go to
   * helpers (threads > 1, gzip levels 1-9 or zstd); false when the whole pipeline runs on its
   * calling thread (absent in older addons).
   */
  hashThreads?: boolean;
}

export interface NativeMemberDigests {
  /**
   * Once every call made with it has settled: the blob digest (with `tail` last), the diffID and the
   * seconds each of the two in-order stages was busy (input: diffID, chunks, files; blob), with
   * hashSeconds the busier (absent in older addons; an addon of one stage gives hashSeconds only); else undefined.
   */
  finish(tail: Uint8Array): { digest: Buffer; diffID: Buffer; hashSeconds?: number; inputHashSeconds?: number; blobHashSeconds?: number } | undefined;
}

export interface NativeAddon {
  /** threads (1 to info.maxThreads, default 1): threads one call may compress its units on. */
  Pipeline: new (level: number, mode: number, threads?: number) => NativePipeline;
  /** Test helper: SHA-256 of any ArrayBufferView, on the process-wide or the portable path. */
  sha256(data: ArrayBufferView, forcePortable?: boolean): Buffer;
  /** Test helper: helper threads started, and units compressed on them, in this process. */
  poolStats(): { threads: number; helperUnits: number };
  /**
   * Many independent gzip members in one worker call (eStargz, native/core/members.h): the views laid end
   * to end, cut by `sizes`; each member's bytes are a Pipeline's for that input alone. `digests`: the
   * SHA-256 of each member's first hashLengths[i] bytes, 32 bytes each. The views are read on the
   * worker (the call holds the array and its views): neither may change, nor their buffers be
   * transferred, until the promise settles, so only buffers nobody else holds are passed. `out` is
   * the worker's memory, not a copy. With `stream` (addons that have
   * MemberDigests), the call's input and members are hashed into it, in call order. With `fileMarks` too
   * (addons with gzipMembersFiles; one per member: 0 none, 1 a file's first chunk, 2 a middle one, 3 its
   * last, going on from the calls before), each marked prefix is also hashed into its file's digest,
   * and `digests` holds one more 32 bytes per member marked 3. Absent in addons built before it.
   */
  gzipMembers?(level: number, views: Uint8Array[], sizes: Float64Array | number[], threads: number, hashLengths: Float64Array | number[],
    stream?: NativeMemberDigests, fileMarks?: Float64Array | number[]): Promise<{ out: Buffer; sizes: Float64Array | number[]; digests: Buffer }>;
  /** gzipMembers takes file marks. Absent in addons built before them. */
  gzipMembersFiles?: boolean;
  /** The running diffID and blob SHA-256 of a run of gzipMembers calls. Absent in addons built before it. */
  MemberDigests?: new () => NativeMemberDigests;
  info: {
    format: number;
    blockSize: number;
    isal: string;
    zlib: string;
    /** libzstd version (absent in addons built before zstd layers existed). */
    zstd?: string;
    /** Input bytes per zstd frame (ZSTD_FRAME_SIZE). */
    zstdFrameSize?: number;
    sha256: string;
    fingerprint: string;
    maxThreads: number;
    /** A readFile() continuing the one in flight may be queued behind it (absent in older addons). */
    queuedReads?: boolean;
  };
}

export interface NativeLoadResult {
  addon?: NativeAddon;
  /** Why no addon loaded; code ERR_FASTLAYER_NATIVE_UNAVAILABLE. */
  error?: Error;
  /** The file the addon was loaded from. */
  path?: string;
  kind?: AddonCandidate['kind'];
}

/** Code of the process warning emitted when the native engine is unavailable and js is used instead. */
export const NATIVE_FALLBACK_WARNING = 'FASTLAYER_NATIVE_FALLBACK';

const HOW_TO_GET_NATIVE =
  'To get the native engine: on linux-x64 with glibc the package ships a prebuilt addon, so reinstall ' +
  'fastlayer (and delete a broken build/ folder if there is one); elsewhere build it from source with a ' +
  'C++ compiler, make, python3 and the ISA-L and zlib development files ' +
  '(Debian/Ubuntu: libisal-dev zlib1g-dev; Fedora: isa-l-devel zlib-devel zlib-static; ' +
  'Alpine: isa-l-dev zlib-dev zlib-static; macOS: brew install isa-l zlib), ' +
  'then run `npm rebuild fastlayer --build-from-source`.';

/** The package root: the nearest folder above this file that holds package.json and binding.gyp. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('fastlayer: cannot find the package root (package.json next to binding.gyp)');
    dir = up;
  }
}

function unavailable(message: string): Error {
  return Object.assign(new Error(`fastlayer: native addon unavailable: ${message}`), {
    code: 'ERR_FASTLAYER_NATIVE_UNAVAILABLE',
  });
}

function firstLine(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).replace(/^fastlayer: /, '');
  return text.split('\n')[0] ?? text;
}

/** A file that loads but was built from other format constants would write wrong bytes: refuse it. */
function checkAddon(addon: unknown): NativeAddon {
  const candidate = addon as Partial<NativeAddon> | null;
  if (typeof candidate?.Pipeline !== 'function' || typeof candidate.info !== 'object' || candidate.info === null) {
    throw new Error('the file is not a fastlayer addon (no Pipeline class or info object)');
  }
  const { format, blockSize } = candidate.info;
  if (format !== FORMAT_VERSION || blockSize !== BLOCK_SIZE) {
    throw new Error(
      `it was built for format ${String(format)} with block size ${String(blockSize)}, this package expects ` +
        `format ${FORMAT_VERSION} with block size ${BLOCK_SIZE}: rebuild it (npm run build:native, or npm run prebuild)`,
    );
  }
  return candidate as NativeAddon;
}

function tryLoad(): NativeLoadResult {
  let dir: string;
  try {
    // node-gyp-build's override: load the addon of another package folder.
    dir = process.env.FASTLAYER_PREBUILD || packageRoot();
  } catch (err) {
    return { error: unavailable(firstLine(err)) };
  }
  let candidates: AddonCandidate[];
  try {
    candidates = addonCandidates(dir);
  } catch (err) {
    return { error: unavailable(`cannot look for the addon: ${firstLine(err)}`) };
  }
  if (candidates.length === 0) {
    const { platform, arch } = prebuildPlatform();
    const where = process.env.PREBUILDS_ONLY ? '' : `${join(dir, 'build', 'Release')} or `;
    return {
      error: unavailable(
        `no addon found in ${where}${join(dir, 'prebuilds', `${platform}-${arch}`)} ` +
          `(node-api, ${platform}-${arch}, node ${process.version})`,
      ),
    };
  }
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      return { addon: checkAddon(require(candidate.path)), path: candidate.path, kind: candidate.kind };
    } catch (err) {
      failures.push(`${candidate.kind} ${candidate.path} does not load: ${firstLine(err)}`);
    }
  }
  return { error: unavailable(failures.join('; ')) };
}

let cached: NativeLoadResult | undefined;

function warnFallback(error: Error): void {
  const choice = process.env.FASTLAYER_ENGINE;
  // An explicit choice needs no warning: 'js' was asked for, and 'native' fails loudly in engine selection.
  if (choice === 'js' || choice === 'native') return;
  process.emitWarning(
    `${error.message}\nUsing the pure-TypeScript engine instead (slower; at levels 1-9 its bytes, and so ` +
      `the digest, differ from the native engine's). ${HOW_TO_GET_NATIVE} ` +
      'Set FASTLAYER_ENGINE=js to choose the TypeScript engine explicitly and silence this warning.',
    { type: 'FastlayerWarning', code: NATIVE_FALLBACK_WARNING },
  );
}

/**
 * Returns the addon, or the reason it could not be loaded. Loads once per process; the first failure
 * emits one process warning (code FASTLAYER_NATIVE_FALLBACK) unless FASTLAYER_ENGINE is set.
 */
export function loadNative(): NativeLoadResult {
  if (cached) return cached;
  cached = tryLoad();
  if (cached.error) warnFallback(cached.error);
  return cached;
}
