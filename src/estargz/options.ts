// Options of the eStargz writer, checked at the call: every mistake is a coded TypeError/RangeError.
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import type { EngineName } from '../engine/engine.js';

export interface EstargzOptions {
  /** gzip level of every member, 0 to 9 (default 1). */
  compressionLevel?: number;
  /** Files larger than this are split into chunks of this many bytes (default 4 MiB, as upstream). */
  chunkSize?: number;
  /**
   * Files (tar names) to put first, before the `.prefetch.landmark` that tells a lazy snapshotter to
   * fetch them all at mount. Empty or absent: the layer starts with `.no.prefetch.landmark`.
   */
  prioritize?: readonly string[];
  /** Threads the members compress on at once, 1 to 16; the bytes never depend on it (default 4). */
  threads?: number;
  engine?: EngineName;
  /** Most bytes held to move prioritised files to the front: the held entries' headers and data (default 256 MiB). */
  prioritizeBuffer?: number;
}

export interface ResolvedEstargzOptions {
  level: number;
  chunkSize: number;
  prioritize: string[];
  threads: number;
  engine: EngineName | undefined;
  prioritizeBuffer: number;
}

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** Chunks below one tar block only multiply members; above 64 MiB one member is a memory hazard. */
export const MIN_CHUNK_SIZE = 512;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
/** Most threads the members compress on at once; a Layer with more uses this many (same bytes). */
export const MAX_ESTARGZ_THREADS = 16;
const KNOWN = optionKeys<EstargzOptions>({ compressionLevel: true, chunkSize: true, prioritize: true, threads: true, engine: true, prioritizeBuffer: true });

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new ErrInvalidOption(name, 'a number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw new ErrOptionRange(name, `an integer from ${min} to ${max}`, value);
  return value;
}

/** The tar name a prioritised path stands for: no leading '/' or './', no trailing '/'. */
export function cleanName(name: string): string {
  return name.split('/').filter((p) => p !== '' && p !== '.').join('/');
}

export function resolveEstargzOptions(options: unknown): ResolvedEstargzOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ErrInvalidOption('options', 'an object', options);
  const o = options as Record<string, unknown>;
  refuseUnknownOptions(o, KNOWN, 'an eStargz layer');
  const level = integer('compressionLevel', o.compressionLevel ?? 1, 0, 9);
  const chunkSize = integer('chunkSize', o.chunkSize ?? DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const threads = integer('threads', o.threads ?? 4, 1, MAX_ESTARGZ_THREADS);
  const prioritizeBuffer = integer('prioritizeBuffer', o.prioritizeBuffer ?? 256 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER);
  const list = o.prioritize ?? [];
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) throw new ErrInvalidOption('prioritize', 'an array of strings', list);
  const prioritize = (list as string[]).map((p) => {
    const clean = cleanName(p);
    if (clean === '' || p.includes('\0') || clean.split('/').includes('..')) throw new ErrOptionRange('prioritize', "file names in the layer (not the root, no '..' or NUL)", p);
    return clean;
  });
  const engine = o.engine;
  if (engine !== undefined && engine !== 'native' && engine !== 'js') throw new ErrOptionRange('engine', "'native' or 'js'", engine);
  return { level, chunkSize, prioritize: [...new Set(prioritize)], threads, engine: engine as EngineName | undefined, prioritizeBuffer };
}
