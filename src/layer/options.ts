// Validation of `new Layer(source, options)`: every mistake is reported at construction with a
// coded TypeError (wrong type) or RangeError (wrong value).
import type { Compression, EngineName } from '../engine/engine.js';
export type { EngineName };
import { availableParallelism } from 'node:os';
import { ErrInvalidOption, ErrOptionRange } from '../errors.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_UNCOMPRESSED } from '../media-types.js';


export interface LayerOptions {
  /** Integer 0 (stored) to 9 (smallest); default 1. */
  compressionLevel?: number;
  /** Reported by mediaType(); default Docker's gzip layer type, or OCI's uncompressed type for 'none'. */
  mediaType?: string;
  /** 'gzip' (default) or 'none' (bytes pass through; digest equals diffID). */
  compression?: Compression;
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
  compression: Compression;
  signal: AbortSignal | undefined;
  engine: EngineName | undefined;
  threads: number;
}

const KNOWN = new Set(['compressionLevel', 'mediaType', 'compression', 'signal', 'engine', 'threads']);

export const MAX_THREADS = 16;
// 1 MiB per call is four units of the format: more threads than that have nothing to take.
const DEFAULT_THREADS_CAP = 4;

function defaultThreads(): number {
  const value = process.env.FASTLAYER_THREADS;
  if (value === undefined || value === '') return Math.min(availableParallelism(), DEFAULT_THREADS_CAP);
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_THREADS) {
    throw new ErrOptionRange('FASTLAYER_THREADS (environment variable)', `an integer from 1 to ${MAX_THREADS} or empty`, value);
  }
  return n;
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
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new ErrInvalidOption(key, `absent (unknown option; known: ${[...KNOWN].join(', ')})`, o[key]);
  }

  const level = o.compressionLevel ?? 1;
  if (typeof level !== 'number') throw new ErrInvalidOption('compressionLevel', 'a number', level);
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ErrOptionRange('compressionLevel', 'an integer from 0 to 9', level);
  }

  const compression = o.compression ?? 'gzip';
  if (typeof compression !== 'string') throw new ErrInvalidOption('compression', "'gzip' or 'none'", compression);
  if (compression !== 'gzip' && compression !== 'none') {
    throw new ErrOptionRange('compression', "'gzip' or 'none'", compression);
  }

  const mediaType = o.mediaType ?? (compression === 'none' ? OCI_LAYER_UNCOMPRESSED : DOCKER_LAYER_GZIP);
  if (typeof mediaType !== 'string') throw new ErrInvalidOption('mediaType', 'a string', mediaType);
  if (mediaType.trim() === '') throw new ErrOptionRange('mediaType', 'a non-empty media type', mediaType);

  const signal = o.signal;
  if (signal !== undefined && !isAbortSignal(signal)) throw new ErrInvalidOption('signal', 'an AbortSignal', signal);

  const engine = o.engine;
  if (engine !== undefined) {
    if (typeof engine !== 'string') throw new ErrInvalidOption('engine', "'native' or 'js'", engine);
    if (engine !== 'native' && engine !== 'js') throw new ErrOptionRange('engine', "'native' or 'js'", engine);
  }

  const threads = o.threads ?? defaultThreads();
  if (typeof threads !== 'number') throw new ErrInvalidOption('threads', 'a number', threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new ErrOptionRange('threads', `an integer from 1 to ${MAX_THREADS}`, threads);
  }

  return { level, mediaType, compression, signal, engine, threads };
}
