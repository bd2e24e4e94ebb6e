// A persistent digest cache for directory layers, so that pushing an unchanged tree again uploads
// nothing. A streaming layer's digest exists only at its end, so a registry cannot be asked whether it
// already has the layer; but fastlayer's compressed bytes depend only on the input bytes, the
// compression, the level, the media type, the block format and the engine with its library versions
// (never on threads or chunking). So (diffID of the tar, those inputs) -> (digest, size) is a fact that
// stays true: pass 1 hashes the tar (no compression), a hit makes the layer a KnownBlob that the
// registry HEAD-checks, and its bytes are produced again only if the registry lacks them (checked
// against the descriptor while they are sent, so a tree changed between the passes fails, coded).
// With a destination to ask (CacheUse.verify, cache-use.ts) a hit whose digest it lacks is not used at
// all: the layer streams and gets the digest its bytes have. registry-cache.ts adds shared entries.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { ESTARGZ_LAYOUT_VERSION } from '../estargz/toc.js';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { FORMAT_VERSION } from '../engine/format.js';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { isFresh, markFresh } from '../core/fresh-chunks.js';
import { Layer } from '../layer/layer.js';
import type { LayerOptions } from '../layer/options.js';
import { tarDirectory } from '../tar/directory.js';
import type { TarOptions } from '../tar/options.js';
import type { Blob, BlobOrigin, Descriptor, KnownBlob } from '../image/types.js';
import { DIGEST_PATTERN as DIGEST } from '../core/hash.js';

/** Every input the compressed bytes depend on, besides the uncompressed bytes named by `diffID`. */
export interface LayerCacheKey {
  diffID: string;
  compression: string;
  level: number;
  mediaType: string;
  format: number;
  engine: string;
  /** The engine's library versions and build fingerprint (Layer.engine.details). */
  details: Readonly<Record<string, string>>;
  /**
   * An eStargz layer's own options and its layout's version (absent for the other compressions, so
   * their keys are unchanged): a gzip entry is never an eStargz one, nor one chunk size another's.
   */
  estargz?: { version: number; chunkSize: number; prioritize: readonly string[] };
}

export interface LayerCacheEntry {
  digest: string;
  size: number;
  /**
   * The layer's diffID where it is not the key's (an eStargz layer's tar adds the TOC and a
   * landmark to the source's): the config lists this one.
   */
  diffID?: string;
  /** The layer descriptor's annotations (an eStargz layer's TOC digest and uncompressed size). */
  annotations?: Record<string, string>;
}

export interface LayerCacheOptions {
  /** Entries kept; the least recently used beyond it are removed (default 4096 files of about 500 bytes). */
  maxEntries?: number;
}

/** An entry is a few hundred bytes: anything larger is not one of ours and is not read. */
const MAX_ENTRY_BYTES = 16 * 1024;
const ENTRY_VERSION = 1;
/** Temp files older than this are leftovers of a killed writer. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** An entry's file name, and the temp name set() writes it under first (`ENTRY.PID.RANDOM.tmp`). */
const ENTRY_NAME = /^[0-9a-f]{64}\.json$/;
const TEMP_NAME = /^[0-9a-f]{64}\.json\.\d+\.[0-9a-f]{12}\.tmp$/;

/**
 * Whether a file of the cache directory, owned by `uid`, may be trusted: this user's, or any file of
 * a directory no other user can write to (mode without group or other write: only its owner and root
 * put files there, so a cache the runner owns, mounted into a container that runs as root, still
 * hits). In a directory others can write (`/tmp`, a group's) another user's entry is a miss, never
 * read nor removed: it may be planted, with a wrong size that would fail every build. Where there
 * are no uids (Windows: no getuid), every file counts.
 */
async function trusted(dir: string, uid: number): Promise<boolean> {
  if (typeof process.getuid !== 'function' || uid === process.getuid()) return true;
  const st = await stat(dir).catch(() => undefined);
  return st !== undefined && (st.mode & 0o022) === 0;
}

/** `$XDG_CACHE_HOME/fastlayer/layers` when XDG_CACHE_HOME is absolute, else `~/.cache/fastlayer/layers`. */
export function defaultLayerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'fastlayer', 'layers');
}

/** Canonical form of a key: sorted details, fixed field order. */
function canonicalKey(key: LayerCacheKey): string {
  const details = Object.fromEntries(Object.entries(key.details).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const fields: unknown[] = [key.diffID, key.compression, key.level, key.mediaType, key.format, key.engine, details];
  if (key.estargz !== undefined) fields.push({ version: key.estargz.version, chunkSize: key.estargz.chunkSize, prioritize: [...key.estargz.prioritize] });
  return JSON.stringify(fields);
}

/** The SHA-256 (hex) of the canonical key: the entry's file name here, its name in a shared cache. */
export function layerCacheKeyId(key: LayerCacheKey): string {
  return createHash('sha256').update(canonicalKey(key)).digest('hex');
}

/** The key of `layer`'s bytes for the tar whose SHA-256 is `diffID` (the layer need not be consumed). */
export function layerCacheKey(layer: Layer, diffID: string): LayerCacheKey {
  return {
    diffID,
    compression: layer.compression,
    level: layer.compressionLevel,
    mediaType: layer.mediaType(),
    format: FORMAT_VERSION,
    engine: layer.engine.name,
    details: layer.engine.details,
    ...(layer.estargz === undefined ? {} : { estargz: { version: ESTARGZ_LAYOUT_VERSION, chunkSize: layer.estargz.chunkSize, prioritize: layer.estargz.prioritize } }),
  };
}

/** An entry's diffID and annotations, when present and well-formed; undefined when malformed. */
export function entryExtras(e: { diffID?: unknown; annotations?: unknown }): Pick<LayerCacheEntry, 'diffID' | 'annotations'> | undefined {
  const out: Pick<LayerCacheEntry, 'diffID' | 'annotations'> = {};
  if (e.diffID !== undefined) {
    if (typeof e.diffID !== 'string' || !DIGEST.test(e.diffID)) return undefined;
    out.diffID = e.diffID;
  }
  if (e.annotations !== undefined) {
    const a = e.annotations;
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return undefined;
    const entries = Object.entries(a as Record<string, unknown>);
    if (entries.length > 16 || entries.some(([k, v]) => typeof v !== 'string' || k.length > 256 || v.length > 1024)) return undefined;
    out.annotations = Object.fromEntries(entries) as Record<string, string>;
  }
  return out;
}

/**
 * Whether an entry can stand for `layer`: an eStargz layer needs the diffID and annotations its
 * descriptor and config carry; any other layer's diffID is the key's, so it must have none.
 */
function usable(layer: Layer, entry: LayerCacheEntry): boolean {
  if (layer.compression === 'estargz') return entry.diffID !== undefined && entry.annotations !== undefined;
  return entry.diffID === undefined && entry.annotations === undefined;
}

/** The entry's fields worth writing (digest, size, and the extras when present). */
function entryFields(entry: LayerCacheEntry): LayerCacheEntry {
  return {
    digest: entry.digest, size: entry.size,
    ...(entry.diffID === undefined ? {} : { diffID: entry.diffID }),
    ...(entry.annotations === undefined ? {} : { annotations: { ...entry.annotations } }),
  };
}

/**
 * The cache directory: one small JSON file per key, named by the SHA-256 of the canonical key, which it
 * also holds in full (a file under the wrong name is a miss). Written to a temp file and renamed, so a
 * reader sees a whole entry or none; concurrent writers of one key write the same bytes. Unreadable,
 * foreign (another user's included) or corrupt files are misses, never errors: the cache only ever saves work. A cache that
 * cannot be written (read-only, full disk) is skipped silently for the same reason.
 */
export class LayerCache {
  readonly dir: string;
  readonly maxEntries: number;
  readonly #pending = new Set<Promise<void>>();

  constructor(dir: string = defaultLayerCacheDir(), options: LayerCacheOptions = {}) {
    if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) throw new ErrInvalidOption('layerCache', 'a directory path', dir);
    refuseUnknownOptions(options, optionKeys<LayerCacheOptions>({ maxEntries: true }), 'new LayerCache()');
    const max = options.maxEntries ?? 4096;
    if (!Number.isSafeInteger(max) || max < 1 || max > 1_000_000) throw new ErrOptionRange('maxEntries', 'an integer from 1 to 1000000', max);
    this.dir = resolve(dir);
    this.maxEntries = max;
  }

  #path(key: LayerCacheKey): string {
    return join(this.dir, `${layerCacheKeyId(key)}.json`);
  }

  /** The entry for `key`, or undefined for a miss (absent, unreadable or corrupt). */
  async get(key: LayerCacheKey): Promise<LayerCacheEntry | undefined> {
    const path = this.#path(key);
    let text: string;
    try {
      // No symlinks followed, no FIFO waited on: the directory may hold anything.
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        const st = await fh.stat();
        if (!st.isFile() || st.size > MAX_ENTRY_BYTES || !(await trusted(this.dir, st.uid))) return undefined;
        text = await fh.readFile({ encoding: 'utf8' });
      } finally {
        await fh.close();
      }
    } catch {
      return undefined;
    }
    const entry = parseEntry(text, canonicalKey(key));
    // The mtime is the recency the size bound evicts by.
    if (entry) {
      const now = new Date();
      await utimes(path, now, now).catch(() => {});
    }
    return entry;
  }

  /** Records `key -> entry` (atomically; failures are ignored: the cache only saves work). */
  async set(key: LayerCacheKey, entry: LayerCacheEntry): Promise<void> {
    if (!DIGEST.test(entry.digest) || !Number.isSafeInteger(entry.size) || entry.size < 0) throw new ErrInvalidOption('entry', '{ digest: sha256:<hex>, size }', entry);
    const path = this.#path(key);
    if (entryExtras(entry) === undefined) throw new ErrInvalidOption('entry', '{ digest, size, diffID?: sha256:<hex>, annotations?: strings }', entry);
    const text = JSON.stringify({ fastlayerLayerCache: ENTRY_VERSION, key: JSON.parse(canonicalKey(key)) as unknown, ...entryFields(entry) });
    const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(temp, text, { flag: 'wx', mode: 0o600 });
      await rename(temp, path);
    } catch {
      await unlink(temp).catch(() => {});
      return;
    }
    await this.#prune().catch(() => {});
  }

  /** Removes the entry of `key` (one the bytes made again proved wrong); failures are ignored. */
  async forget(key: LayerCacheKey): Promise<void> {
    await unlink(this.#path(key)).catch(() => {});
  }

  /** A write in flight, that settled() waits for. Its failure is never a build's failure. */
  track(write: Promise<void>): void {
    const p = write.catch(() => {}).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves once every write started through track() is finished (or given up). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Keeps at most maxEntries entries, removing the least recently used, and stale temp files. */
  async #prune(): Promise<void> {
    const names = await readdir(this.dir);
    const now = Date.now();
    const entries: { path: string; mtime: number }[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      // Only names set() makes, and only regular files: the directory may be one the user named
      // (`--layer-cache-dir /tmp`), where other programs' `*.tmp` and `*.json` files live.
      if (TEMP_NAME.test(name)) {
        const st = await lstat(path).catch(() => undefined);
        if (st?.isFile() && now - st.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => {});
      } else if (ENTRY_NAME.test(name) && names.length > this.maxEntries) {
        const st = await lstat(path).catch(() => undefined);
        if (st?.isFile() && (await trusted(this.dir, st.uid))) entries.push({ path, mtime: st.mtimeMs });
      }
    }
    if (entries.length <= this.maxEntries) return;
    entries.sort((a, b) => a.mtime - b.mtime);
    // Down to 90%, so a full cache is not scanned again on every write.
    const keep = Math.floor(this.maxEntries * 0.9);
    for (const e of entries.slice(0, entries.length - keep)) await unlink(e.path).catch(() => {});
  }
}

function parseEntry(text: string, canonical: string): LayerCacheEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { fastlayerLayerCache?: unknown; key?: unknown; digest?: unknown; size?: unknown; diffID?: unknown; annotations?: unknown };
  if (v.fastlayerLayerCache !== ENTRY_VERSION) return undefined;
  // The file holds its whole key: a file copied or renamed under another key's name is a miss.
  if (JSON.stringify(v.key) !== canonical) return undefined;
  if (typeof v.digest !== 'string' || !DIGEST.test(v.digest)) return undefined;
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) return undefined;
  const extras = entryExtras(v);
  return extras === undefined ? undefined : { digest: v.digest, size: v.size, ...extras };
}

/** `true`: the default directory; a string: that directory; a LayerCache: itself. */
export function resolveLayerCache(value: true | string | LayerCache, name = 'layerCache'): LayerCache {
  if (value instanceof LayerCache) return value;
  if (value === true) return new LayerCache();
  if (typeof value === 'string' && value !== '') return new LayerCache(value);
  throw new ErrInvalidOption(name, 'true, a directory path or a LayerCache', value);
}

/** A second source of entries (the registry cache, registry-cache.ts), consulted after the directory. */
export interface SharedLayerCache {
  get(key: LayerCacheKey): (LayerCacheEntry & { origin?: BlobOrigin }) | undefined;
  /** Called for every entry this build used or learnt. */
  record(key: LayerCacheKey, entry: LayerCacheEntry): void;
}

/** How a hit is checked before it is used, and where entries come from besides the directory. */
export interface CacheUse {
  shared?: SharedLayerCache;
  /**
   * Whether the destination holds the hit's blob, its digest with its size (or can mount it from
   * `origin`). False: the layer is compressed again as a streaming layer, so its digest is the one
   * its bytes have, whatever the entry said. Without it a hit is a known blob whose bytes, made again, are checked against it.
   */
  verify?: (descriptor: Descriptor, origin: BlobOrigin | undefined) => Promise<boolean>;
}

export interface CachedLayerOptions extends LayerOptions, CacheUse {
  cache?: true | string | LayerCache;
}
/** The source's chunks, each added to `hash` as it is read (before it is handed on: fresh stays fresh). */
function hashing(source: AsyncIterable<Uint8Array>, hash: Hash): AsyncGenerator<Uint8Array> {
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      hash.update(chunk);
      yield chunk;
    }
  }
  return isFresh(source) ? markFresh(hashed()) : hashed();
}

async function sha256Of(source: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source) {
    signal?.throwIfAborted();
    hash.update(chunk);
  }
  signal?.throwIfAborted();
  return `sha256:${hash.digest('hex')}`;
}

/**
 * A layer of the tar `openTar` produces (called once per pass: it must give the same bytes for the
 * same tree), looked up in the cache by its diffID. Hit: a KnownBlob whose open() builds the layer
 * again and compresses it (only when the destination lacks the blob; destinations check those bytes
 * against the descriptor). Miss: the streaming layer, whose values are recorded once it has ended
 * successfully. Costs one extra read and SHA-256 pass of the tar, without compression.
 */
export async function cachedLayer(openTar: () => AsyncIterable<Uint8Array>, options: CachedLayerOptions): Promise<Blob> {
  if (typeof openTar !== 'function') throw new ErrInvalidOption('openTar', 'a function returning the tar bytes', openTar);
  if (typeof options !== 'object' || options === null) throw new ErrInvalidOption('options', 'an object', options);
  const { cache: cacheOption, shared, verify, ...layerOptions } = options;
  const cache = cacheOption === undefined ? undefined : resolveLayerCache(cacheOption, 'cache');
  if (cache === undefined && shared === undefined) throw new ErrInvalidOption('cache', 'true, a directory path or a LayerCache (or a shared cache)', cacheOption);
  // Built first: it checks the options and decides the engine, which the key names. An eStargz
  // layer's diffID is not its source's: the source is hashed as the layer reads it, for the key.
  const estargz = layerOptions.compression === 'estargz';
  const read = createHash('sha256');
  const layer = new Layer(estargz ? hashing(openTar(), read) : openTar(), layerOptions);
  const diffID = await sha256Of(openTar(), layerOptions.signal);
  const key = layerCacheKey(layer, diffID);
  const found = await cache?.get(key);
  const local = found !== undefined && usable(layer, found) ? found : undefined;
  const remote = local === undefined ? shared?.get(key) : undefined;
  const hit = local ?? (remote !== undefined && usable(layer, remote) ? remote : undefined);
  if (hit) {
    const annotations = hit.annotations === undefined ? {} : { annotations: { ...hit.annotations } };
    const descriptor = { mediaType: layer.mediaType(), digest: hit.digest, size: hit.size, ...annotations };
    const entry = entryFields(hit);
    const origin = local === undefined ? (hit as { origin?: BlobOrigin }).origin : undefined;
    // A stale entry (a digest the destination lacks) is never referenced: the layer is made again.
    if (verify === undefined || (await verify(descriptor, origin))) {
      shared?.record(key, entry);
      if (local === undefined) cache?.track(cache.set(key, entry));
      const blob: KnownBlob = {
        kind: 'known',
        descriptor,
        diffID: hit.diffID ?? diffID,
        ...(origin === undefined ? {} : { origin }),
        open: (): Readable => {
          const again = new Layer(openTar(), layerOptions);
          if (cache === undefined) return again.compressed();
          // The destination fails this write on the mismatch (verify.ts). An entry that the same tar
          // (hashed again: the key's diffID) does not give is wrong: removed, so the next build makes
          // the layer again instead of failing the same way each time. A changed tree leaves it be.
          return onMismatch(again, descriptor, () => {
            const unchanged = sha256Of(openTar(), undefined).then((d) => d === diffID, () => false);
            cache.track(unchanged.then((same) => (same ? cache.forget(key) : undefined)));
          });
        },
      };
      return blob;
    }
  }
  // Recorded from the layer's own values (the truth about the bytes it made), only once it completed;
  // `done` resolves before any destination sees the layer's end, so settled() after a write covers it.
  layer.done.then(
    (v) => {
      // The key of the bytes the layer read: a tree changed since the hashing pass gets its own.
      const done = layerCacheKey(layer, estargz ? `sha256:${read.digest('hex')}` : v.diffID.toString());
      const entry: LayerCacheEntry = {
        digest: v.digest.toString(), size: v.size,
        ...(estargz ? { diffID: v.diffID.toString(), annotations: { ...v.annotations } } : {}),
      };
      shared?.record(done, entry);
      cache?.track(cache.set(done, entry));
    },
    () => {},
  );
  return { kind: 'streaming', layer };
}

/**
 * `layer`'s compressed bytes, calling `mismatch` once they prove not to be `expected`'s: more bytes
 * than its size (seen here, because the destination's check fails the write at the first extra byte,
 * so the layer never completes), or a completed layer of another size or digest.
 */
function onMismatch(layer: Layer, expected: { digest: string; size: number }, mismatch: () => void): Readable {
  let told = false;
  const once = (): void => {
    if (!told) mismatch();
    told = true;
  };
  layer.done.then((v) => {
    if (v.digest.toString() !== expected.digest || v.size !== expected.size) once();
  }, () => {});
  const source = layer.compressed();
  async function* counted(): AsyncGenerator<Uint8Array> {
    let seen = 0;
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      seen += chunk.byteLength;
      if (seen > expected.size) once();
      yield chunk;
    }
  }
  return Readable.from(counted(), { objectMode: false, highWaterMark: source.readableHighWaterMark });
}

/** cachedLayer of `tarDirectory(dir, tarOptions)`. */
export function cachedDirectoryLayer(dir: string, tarOptions: TarOptions, options: CachedLayerOptions): Promise<Blob> {
  return cachedLayer(() => tarDirectory(dir, tarOptions), options);
}

/** buildImage's hook: the directory layers as cached blobs, hashed one after the other; a layer's own `options` win. */
export async function cachedLayers(dirs: readonly { open: () => AsyncIterable<Uint8Array>; options?: LayerOptions }[], options: LayerOptions, cache: LayerCache | undefined, use: CacheUse = {}): Promise<Blob[]> {
  const blobs: Blob[] = [];
  for (const d of dirs) blobs.push(await cachedLayer(d.open, { ...(d.options ?? options), ...use, ...(cache === undefined ? {} : { cache }) }));
  return blobs;
}
