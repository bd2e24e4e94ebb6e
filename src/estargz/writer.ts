// The eStargz writer: one pass over a tar stream. Each regular file's data (each chunk of a large
// one) starts a gzip member of its own, so a lazy reader can fetch and inflate just that range; the
// tar headers and padding ride in the member before. After the entries come the TOC (a tar of
// stargz.index.json, with the end-of-archive blocks) in its own member and the footer
// (the eStargz spec in the stargz-snapshotter repository). Gunzipping the blob gives one ordinary tar: its SHA-256 is
// the diffID, as for any gzip layer.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { selectEngine } from '../engine/engines.js';
import { plainHeader, trailer } from '../tar/header.js';
import { ErrTarInvalid } from '../tar/errors.js';
import { isFresh } from '../core/fresh-chunks.js';
import { ErrDestroyed } from '../core/errors.js';
import { MemberQueue, type ChunkHash, type EstargzStats } from './members.js';

export type { EstargzStats } from './members.js';
import { resolveEstargzOptions, type EstargzOptions, type ResolvedEstargzOptions } from './options.js';
import { TarSplitter, type SplitEntry } from './tar-split.js';
import { pad } from '../tar/reader.js';
import { LANDMARK_CONTENT, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_NAME, checkName, footer, tocEntry, type TocEntry } from './toc.js';
import { prioritized, type EntryWriter, type Reader } from './prioritize.js';

export interface EstargzResult {
  /** 'sha256:...' of the blob. */
  digest: string;
  /** 'sha256:...' of the uncompressed tar (the gunzipped blob). */
  diffID: string;
  size: number;
  /** Bytes of the uncompressed tar (the `io.containers.estargz.uncompressed-size` annotation). */
  uncompressedSize: number;
  /** 'sha256:...' of the TOC JSON (the `containerd.io/snapshot/stargz/toc.digest` annotation). */
  tocDigest: string;
  /** Gzip members before the TOC, TOC entries, regular-file chunks. */
  members: number;
  entries: number;
  chunks: number;
  landmark: typeof PREFETCH_LANDMARK | typeof NO_PREFETCH_LANDMARK;
}

export interface EstargzLayer {
  /** The blob; read it once. */
  stream: Readable;
  /** Resolves once the stream has ended; rejects with the stream's error. */
  done: Promise<EstargzResult>;
  /** How the work went, filled in once the stream has ended (for benchmarks; not part of the result). */
  stats: EstargzStats;
}

/** Every entry of a 'reg' TOC entry's members: offsets are known only once the members before are. */
interface Placed {
  toc: TocEntry;
  member: number;
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const MAX_IN_FLIGHT = 64 * 1024 * 1024;

class Writer implements EntryWriter {
  readonly #queue: MemberQueue;
  #size = 0;
  #usize = 0;
  #open: Buffer[] = [];
  #openBytes = 0;
  readonly #placed: Placed[] = [];
  #chunks = 0;
  /** The digest the open member owes its chunk's TOC entry, asked when the member is closed. */
  #hash: ChunkHash | undefined;

  constructor(private readonly o: ResolvedEstargzOptions) {
    const factory = selectEngine(o.engine, { level: o.level, compression: 'gzip' });
    this.#queue = new MemberQueue(factory, o.level, o.threads, o.threads, MAX_IN_FLIGHT + o.chunkSize);
  }

  /** Compressed bytes ready to hand on, in blob order (a batch's members come as one buffer). */
  #ready: Buffer[] = [];

  #handOn(bufs: Buffer[]): void {
    for (const m of bufs) {
      this.#size += m.length;
      this.#ready.push(m);
    }
  }

  /**
   * The bytes handed on since the last call. The writer's steps are plain async functions, not
   * async generators: yield* through three generators per entry cost the main thread more than the
   * entry's own work, and most entries hand on nothing (their member joins a batch).
   */
  take(): Buffer[] {
    const r = this.#ready;
    if (r.length > 0) this.#ready = [];
    return r;
  }

  #append(b: Buffer): void {
    if (b.length === 0) return;
    this.#open.push(b);
    this.#openBytes += b.length;
    this.#usize += b.length;
  }

  /** Ends the open member; `hash` asks for the digest of its first bytes (the chunk it starts with). */
  #close(): void | Promise<void> {
    if (this.#openBytes === 0) return;
    const parts = this.#open;
    const bytes = this.#openBytes;
    const hash = this.#hash;
    this.#open = [];
    this.#openBytes = 0;
    this.#hash = undefined;
    const out = this.#queue.push(parts, bytes, hash);
    if (Array.isArray(out)) this.#handOn(out);
    else return out.then((b) => this.#handOn(b));
  }

  /** One entry: its headers into the open member; each chunk of a file's data starts a member. */
  async entry(e: SplitEntry, read: Reader, padding: Reader): Promise<void> {
    for (const r of e.raw) this.#append(r);
    if (e.name === '.') return; // the root is in the tar, not in the TOC
    const t = tocEntry(e);
    if (t.type !== 'reg' || e.size === 0) {
      this.#placed.push({ toc: t, member: -1 });
      return;
    }
    const chunkSize = this.o.chunkSize;
    // A file of one chunk has the chunk's digest (most files are one chunk); a larger file's digest
    // is taken with its chunks' (on the worker threads for batched members).
    const single = e.size <= chunkSize;
    const set = (digest: string): void => {
      t.digest = digest;
    };
    for (let written = 0; written < e.size; ) {
      const closed = this.#close();
      if (closed) await closed;
      const n = Math.min(chunkSize, e.size - written);
      let data = read(n);
      if (!Array.isArray(data)) data = await data;
      const c: TocEntry = written === 0 ? t : { name: e.name, type: 'chunk' };
      if (written > 0) c.chunkOffset = written;
      // As upstream: a chunk of the full size says so; the last (shorter) one runs to the end.
      if (e.size - written >= chunkSize) c.chunkSize = n;
      this.#hash = {
        length: n,
        set: (digest) => {
          c.chunkDigest = digest;
          if (single) t.digest = digest;
        },
        file: single ? undefined : { first: written === 0, last: written + n === e.size, set },
      };
      this.#placed.push({ toc: c, member: this.#queue.count });
      for (const d of data) this.#append(d);
      written += n;
      this.#chunks++;
    }
    const p = padding(pad(e.size));
    for (const b of Array.isArray(p) ? p : await p) this.#append(b);
  }

  landmark(name: string): Promise<void> {
    const e: SplitEntry = {
      raw: [plainHeader(Buffer.from(name), '0', 0o644, 1, 0)], name, type: 'file', size: 1, mode: 0o644,
      uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), devmajor: 0, devminor: 0,
    };
    return this.entry(e, () => [Buffer.from([LANDMARK_CONTENT])], (n) => [Buffer.alloc(n)]);
  }

  /** The TOC member and the footer; returns the values (and fills `stats`) once everything is handed on. */
  async *finish(landmark: EstargzResult['landmark'], result: (r: EstargzResult) => void, stats?: EstargzStats): AsyncGenerator<Buffer> {
    await this.#close();
    for (const b of this.take()) yield b;
    for await (const m of this.#queue.drain()) for (const b of this.#on(m)) yield b;
    const offsets = [0];
    for (const s of this.#queue.sizes) offsets.push(offsets[offsets.length - 1]! + s);
    const entries = this.#placed.map(({ toc, member }) => (member < 0 ? toc : reorder(toc, offsets[member]!)));
    const json = Buffer.from(JSON.stringify({ version: 1, entries }, null, '\t'));
    const tocOffset = this.#size;
    this.#append(plainHeader(Buffer.from(TOC_NAME), '0', 0o644, json.length, 0));
    this.#append(json);
    this.#append(Buffer.alloc(pad(json.length)));
    this.#append(trailer());
    const members = this.#queue.count;
    await this.#close();
    for (const b of this.take()) yield b;
    for await (const m of this.#queue.drain()) for (const b of this.#on(m)) yield b;
    const tail = footer(tocOffset);
    // The queue hashed the members (on the native calls' threads where it could): it adds the footer.
    const { digest, diffID, stats: hashStats } = this.#queue.digests(tail);
    for (const b of this.#on(tail)) yield b;
    if (stats && hashStats) Object.assign(stats, hashStats);
    result({
      digest, diffID, size: this.#size,
      uncompressedSize: this.#usize, tocDigest: sha(json), members, entries: entries.length, chunks: this.#chunks, landmark,
    });
  }

  /** One buffer handed on at once (the end, where there are few). */
  #on(b: Buffer): Buffer[] {
    this.#handOn([b]);
    return this.take();
  }

  abandon(): void {
    this.#queue.abandon();
  }
}

/** The entry with `offset` placed where upstream's JSON has it (after the owner fields). */
function reorder(t: TocEntry, offset: number): TocEntry {
  const { name, type, size, modtime, linkName, mode, uid, gid, userName, groupName, xattrs, digest, chunkOffset, chunkSize, chunkDigest } = t;
  return { name, type, size, modtime, linkName, mode, uid, gid, userName, groupName, offset, xattrs, digest, chunkOffset, chunkSize, chunkDigest };
}

async function* produce(source: AsyncIterable<Uint8Array>, o: ResolvedEstargzOptions, fresh: () => boolean, result: (r: EstargzResult) => void, stats?: EstargzStats): AsyncGenerator<Buffer> {
  const w = new Writer(o);
  const split = new TarSplitter(source, fresh);
  try {
    let landmark: EstargzResult['landmark'] = NO_PREFETCH_LANDMARK;
    if (o.prioritize.length === 0) await w.landmark(NO_PREFETCH_LANDMARK);
    else {
      landmark = PREFETCH_LANDMARK;
      yield* prioritized(w, split, o);
    }
    for (const b of w.take()) yield b;
    let name = '';
    const read = (n: number) => split.parts(n, name);
    for (let e = await split.next(); e; e = await split.next()) {
      name = checkName(e).name;
      await w.entry(e, read, read);
      for (const b of w.take()) yield b;
    }
    yield* w.finish(landmark, result, stats);
  } catch (err) {
    w.abandon();
    throw err;
  }
}

/**
 * The blob's bytes as a generator; `result` gets the values once the last byte is handed on.
 * Every yield is in a generator or a plain loop, never a `yield*` over an array: Readable.from on
 * Node >= 24 throws a destroy's error into the generator, and an array iterator delegated to by
 * `yield*` has no throw(), which turns the reason into a TypeError.
 */
export function estargzChunks(source: AsyncIterable<Uint8Array>, options: EstargzOptions | undefined, result: (r: EstargzResult) => void): AsyncGenerator<Buffer> {
  return produce(source, resolveEstargzOptions(options), freshOf(source), result);
}

/** A source marked fresh (tarDirectory's) is never copied; any other always is. */
const freshOf = (source: unknown): (() => boolean) => (isFresh(source) ? () => true : () => false);

/**
 * An eStargz blob of a tar stream, in one pass. The blob depends only on the tar and the options
 * (level, chunk size, prioritised files): never on threads or on how the source is chunked.
 */
export function estargzLayer(source: AsyncIterable<Uint8Array>, options?: EstargzOptions): EstargzLayer {
  return estargzLayerOf(source, options, freshOf(source));
}

/**
 * estargzLayer for the project's own readers (src/layer/estargz-stream.ts): `fresh()`, asked after
 * each chunk, says whether the writer may keep that chunk without a copy (ChunkReader.freshChunks).
 */
export function estargzLayerOf(source: AsyncIterable<Uint8Array>, options: EstargzOptions | undefined, fresh: () => boolean): EstargzLayer {
  const o = resolveEstargzOptions(options);
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
    throw new ErrTarInvalid('the eStargz source must be an async iterable of Uint8Array (a tar stream)');
  }
  let resolve!: (r: EstargzResult) => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<EstargzResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {});
  const stats: EstargzStats = {};
  const stream = Readable.from(produce(source, o, fresh, resolve, stats), { objectMode: false });
  stream.on('error', reject);
  // Destroyed without an error before it ended (an error came first through 'error'): the same
  // coded error as any layer stream destroyed early.
  stream.on('close', () => reject(new ErrDestroyed()));
  return { stream, done, stats };
}
