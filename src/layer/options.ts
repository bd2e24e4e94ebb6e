// Validation of `new Layer(source, options)`: every mistake is reported at construction with a
// coded TypeError (wrong type) or RangeError (wrong value).
import type { Compression, EngineName } from '../engine/engine.js';
export type { EngineName };
import { availableParallelism } from 'node:os';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_UNCOMPRESSED, OCI_LAYER_ZSTD } from '../core/media-types.js';
import { MAX_ESTARGZ_THREADS, resolveEstargzOptions, type EstargzOptions } from '../estargz/options.js';
import { envThreads } from '../engine/budget.js';

/** What a Layer compresses to: an engine's compression, or eStargz (a gzip layer in the eStargz layout). */
export type LayerCompression = Compression | 'estargz';

/** The eStargz writer's own options (docs/ESTARGZ.md); level, threads and engine are the Layer's. */
export type EstargzLayerOptions = Pick<EstargzOptions, 'chunkSize' | 'prioritize' | 'prioritizeBuffer'>;

/** The eStargz options as resolved: every field set, prioritised names cleaned. */
export interface ResolvedEstargzLayerOptions {
  chunkSize: number;
  prioritize: string[];
  prioritizeBuffer: number;
}

export interface LayerOptions {
  /**
   * gzip: integer 0 (stored) to 9 (smallest), default 1. zstd: 1 to 19, default 3 (the ultra levels
   * 20-22 are refused: docs/ZSTD.md). Ignored for 'none'.
   */
  compressionLevel?: number;
  /**
   * Reported by mediaType(); default Docker's gzip layer type, OCI's zstd layer type for 'zstd', or
   * OCI's uncompressed type for 'none'.
   */
  mediaType?: string;
  /**
   * 'gzip' (default), 'zstd' (docs/ZSTD.md; native engine, or node:zlib on Node >= 22.15), 'none'
   * (bytes pass through; digest equals diffID) or 'estargz' (docs/ESTARGZ.md: the source must be a
   * tar; a gzip layer that stargz-snapshotter pulls lazily, its descriptor annotated).
   */
  compression?: LayerCompression;
  /** Options of an 'estargz' layer (chunk size, prioritised files); refused with another compression. */
  estargz?: EstargzLayerOptions;
  /** Aborting destroys the layer stream with the abort reason and rejects `done` with it. */
  signal?: AbortSignal;
  /** Force an engine; default: FASTLAYER_ENGINE from the environment, else native when it loads. */
  engine?: EngineName;
  /**
   * Threads the layer may compress on at once, 1 to 16 (the bytes are the same for every value).
   * Default: FASTLAYER_THREADS from the environment, else the machine's parallelism up to 4.
   */
  threads?: number;
}

export interface ResolvedOptions {
  level: number;
  mediaType: string;
  compression: LayerCompression;
  /** Set for 'estargz' only. */
  estargz: ResolvedEstargzLayerOptions | undefined;
  signal: AbortSignal | undefined;
  engine: EngineName | undefined;
  threads: number;
}

const KNOWN = optionKeys<LayerOptions>({ compressionLevel: true, mediaType: true, compression: true, estargz: true, signal: true, engine: true, threads: true });
const ESTARGZ_KNOWN = optionKeys<EstargzLayerOptions>({ chunkSize: true, prioritize: true, prioritizeBuffer: true });
const COMPRESSIONS = "'gzip', 'zstd', 'none' or 'estargz'";

export const MAX_THREADS = 64;
export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 19;
export const ZSTD_DEFAULT_LEVEL = 3;
// The library's default stays at 4 even on many cores: a library may run several layers in one
// process (a server), each with its own window of 2 x threads + 1 units in memory (docs/DESIGN.md,
// "Threads"); the CLI, which owns the machine, defaults to every core (cliDefaultThreads).
const DEFAULT_THREADS_CAP = 4;

/** The CLI's default: FASTLAYER_THREADS if set, else every available core, up to MAX_THREADS. */
export function cliDefaultThreads(): number {
  return envThreads() ?? Math.min(availableParallelism(), MAX_THREADS);
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true;
  const v = value as Partial<AbortSignal> | null;
  return typeof v === 'object' && v !== null && typeof v.aborted === 'boolean' &&
    typeof v.addEventListener === 'function' && typeof v.removeEventListener === 'function';
}

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ErrInvalidOption('options', 'an object', options);
  }
  const o = options as Record<string, unknown>;
  refuseUnknownOptions(o, KNOWN, 'a Layer');

  const compression = o.compression ?? 'gzip';
  if (typeof compression !== 'string') throw new ErrInvalidOption('compression', COMPRESSIONS, compression);
  if (compression !== 'gzip' && compression !== 'none' && compression !== 'zstd' && compression !== 'estargz') {
    throw new ErrOptionRange('compression', COMPRESSIONS, compression);
  }
  if (o.estargz !== undefined && compression !== 'estargz') {
    throw new ErrInvalidOption('estargz', `absent: eStargz options need compression 'estargz', not '${compression}'`, o.estargz);
  }

  // The level's range depends on the compression, so it is checked after it.
  const zstd = compression === 'zstd';
  const level = o.compressionLevel ?? (zstd ? ZSTD_DEFAULT_LEVEL : 1);
  if (typeof level !== 'number') throw new ErrInvalidOption('compressionLevel', 'a number', level);
  const [minLevel, maxLevel] = zstd ? [ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL] : [0, 9];
  if (!Number.isInteger(level) || level < minLevel || level > maxLevel) {
    const range = `an integer from ${minLevel} to ${maxLevel}`;
    throw new ErrOptionRange('compressionLevel', zstd ? `${range} for zstd (ultra levels 20-22 are not supported)` : range, level);
  }

  const mediaType =
    o.mediaType ?? (compression === 'none' ? OCI_LAYER_UNCOMPRESSED : zstd ? OCI_LAYER_ZSTD : DOCKER_LAYER_GZIP);
  if (typeof mediaType !== 'string') throw new ErrInvalidOption('mediaType', 'a string', mediaType);
  if (mediaType.trim() === '') throw new ErrOptionRange('mediaType', 'a non-empty media type', mediaType);

  const signal = o.signal;
  if (signal !== undefined && !isAbortSignal(signal)) throw new ErrInvalidOption('signal', 'an AbortSignal', signal);

  const engine = o.engine;
  if (engine !== undefined) {
    if (typeof engine !== 'string') throw new ErrInvalidOption('engine', "'native' or 'js'", engine);
    if (engine !== 'native' && engine !== 'js') throw new ErrOptionRange('engine', "'native' or 'js'", engine);
  }

  // FASTLAYER_THREADS also sizes the process's thread budget, which a layer first reads when its
  // stream opens: it is read (a wrong value refused) here, at construction, even when `threads` is given.
  const fromEnv = envThreads();
  const threads = o.threads ?? fromEnv ?? Math.min(availableParallelism(), DEFAULT_THREADS_CAP);
  if (typeof threads !== 'number') throw new ErrInvalidOption('threads', 'a number', threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new ErrOptionRange('threads', `an integer from 1 to ${MAX_THREADS}`, threads);
  }

  const estargz = compression === 'estargz' ? resolveEstargz(o.estargz, level, threads, engine as EngineName | undefined) : undefined;
  return { level, mediaType, compression, estargz, signal, engine, threads };
}

/** The eStargz options, checked by the writer's own rules (with the Layer's level and threads). */
function resolveEstargz(given: unknown, level: number, threads: number, engine: EngineName | undefined): ResolvedEstargzLayerOptions {
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) throw new ErrInvalidOption('estargz', 'an object', given);
  const e = (given ?? {}) as Record<string, unknown>;
  refuseUnknownOptions(e, ESTARGZ_KNOWN, 'the eStargz options of a Layer', 'estargz.');
  const r = resolveEstargzOptions({ ...e, compressionLevel: level, threads: Math.min(threads, MAX_ESTARGZ_THREADS), ...(engine === undefined ? {} : { engine }) });
  return { chunkSize: r.chunkSize, prioritize: r.prioritize, prioritizeBuffer: r.prioritizeBuffer };
}
