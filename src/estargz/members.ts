// Gzip members compressed while the writer goes on, handed on strictly in order. With the native
// engine, members are batched: one native call (the addon's gzipMembers) compresses a batch with one
// compressor per thread (a large member unit by unit), sparing each member an engine's setup (about
// 0.1 ms, more than compressing a small file); the call also hashes its input (the diffID) and its
// members (the blob digest) in call order on its worker thread, and the files of several chunks
// across calls, so the main thread hashes nothing.
// Where the addon lacks gzipMembers (the js engine), or a queue is made unbatched, every member goes
// through an engine of its own and is hashed here. Each member is a complete gzip stream of its bytes
// alone, in the engine's unit format, so the blob never depends on batching, threads or how many
// calls run at once.
import { createHash, type Hash } from 'node:crypto';
import type { EngineFactory } from '../engine/engine.js';
import { nativeGzipMembers, nativeMemberDigests, nativeMembersFiles } from '../engine/native-engine.js';
import type { NativeMemberDigests } from '../engine/native.js';

/** A chunk's digest, asked of the member it starts: its first `length` bytes ('sha256:...' to `set`). */
export interface ChunkHash {
  length: number;
  set(digest: string): void;
  /** The file of several chunks this chunk is part of (its chunks pushed in order, none between). */
  file?: FileHash;
}

/** A file's digest: the SHA-256 of its chunks in order ('sha256:...' to `set` once its last is hashed). */
export interface FileHash {
  /** Whether this chunk is the file's first, and its last. */
  first: boolean;
  last: boolean;
  set(digest: string): void;
}

/** The native file marks (native/core/members.h FileMark). */
const enum Mark {
  None = 0,
  First = 1,
  Middle = 2,
  Last = 3,
}

const markOf = (f: FileHash | undefined): Mark => (f === undefined ? Mark.None : f.first ? Mark.First : f.last ? Mark.Last : Mark.Middle);

/** The digest of the first `length` bytes of a member given as parts; `file` takes them too. */
function hashPrefix(parts: Buffer[], length: number, file: Hash | undefined): string {
  const h = createHash('sha256');
  for (let i = 0, left = length; left > 0 && i < parts.length; i++) {
    const p = parts[i]!;
    const b = p.length <= left ? p : p.subarray(0, left);
    h.update(b);
    file?.update(b);
    left -= p.length;
  }
  return `sha256:${h.digest('hex')}`;
}

/** What a slot hands on: its members' bytes (one buffer for a batch: fewer chunks down the stream) and each member's size. */
interface Done {
  bufs: Buffer[];
  sizes: readonly number[] | Float64Array;
}

interface Slot {
  done: Promise<Done>;
  bytes: number;
}

/** How an eStargz layer's work went (EstargzLayer.stats): the native calls' hash stages. */
export interface EstargzStats {
  /**
   * CPU seconds of the busier of the two in-order hash stages. The native calls hash on their
   * threads in two stages, each one call at a time: the input (the diffID, chunk and file SHA-256)
   * and the blob; while a call hashes its members the next hashes its input, so the busier stage bounds
   * a layer's throughput however many threads compress. Undefined with the js engine (the main
   * thread hashes) and until the stream has ended.
   */
  hashSeconds?: number | undefined;
  /** The input stage's busy seconds (native engine). */
  inputHashSeconds?: number | undefined;
  /** The blob stage's busy seconds (native engine). */
  blobHashSeconds?: number | undefined;
}

/** A batch is sent once it holds this many bytes or members. */
const BATCH_BYTES = 1024 * 1024;
const BATCH_MEMBERS = 512;
/** What push() returns when nothing is ready (never written to). */
const NOTHING: Buffer[] = [];

/** Hashes taken here when the native calls do not take them. */
interface JsHashes {
  diff: Hash;
  blob: Hash;
  /** The open file's chunks so far. */
  file?: Hash;
}

export class MemberQueue {
  readonly #slots: Slot[] = [];
  #inFlightBytes = 0;
  /** Compressed size of every member handed on, in order (the writer's offsets). */
  readonly sizes: number[] = [];
  #count = 0;
  #batch: Buffer[] = [];
  #batchSizes: number[] = [];
  #hashes: (ChunkHash | undefined)[] = [];
  #batchBytes = 0;
  readonly #members: ReturnType<typeof nativeGzipMembers>;
  readonly #native: NativeMemberDigests | undefined;
  readonly #js: JsHashes | undefined;

  constructor(
    private readonly factory: EngineFactory,
    private readonly level: number,
    private readonly threads: number,
    private readonly window: number,
    private readonly maxBytes: number,
    batch = true,
  ) {
    // Batches need the native calls to take every digest (an addon without file digests would leave
    // the files' to the main thread: such an addon gets one engine per member instead).
    this.#members = batch && factory.name === 'native' && nativeMembersFiles() ? nativeGzipMembers() : undefined;
    this.#native = this.#members ? nativeMemberDigests() : undefined;
    this.#js = this.#native ? undefined : { diff: createHash('sha256'), blob: createHash('sha256') };
  }

  /** Members queued so far: the index the next push gets. */
  get count(): number {
    return this.#count;
  }

  async #engine(parts: Buffer[]): Promise<Done> {
    const engine = this.factory.create({ level: this.level, compression: 'gzip', threads: this.threads });
    try {
      const head = await engine.update(parts);
      const { tail } = await engine.finish();
      const member = head.length === 0 ? Buffer.from(tail) : Buffer.concat([head, tail]);
      return { bufs: [member], sizes: [member.length] };
    } finally {
      engine.destroy();
    }
  }

  async #call(views: Buffer[], sizes: number[], hashes: (ChunkHash | undefined)[]): Promise<Done> {
    // The chunk and file digests are taken on the worker threads too. Numbers go as Float64Arrays:
    // the addon reads each at once, not element by element.
    const n = hashes.length;
    const lengths = new Float64Array(n);
    let marks: Float64Array | undefined;
    for (let i = 0; i < n; i++) {
      const h = hashes[i];
      if (h === undefined) continue;
      lengths[i] = h.length;
      if (h.file) (marks ??= new Float64Array(n))[i] = markOf(h.file);
    }
    const { out, sizes: outSizes, digests } = await this.#members!(this.level, views, Float64Array.from(sizes), this.threads, lengths, this.#native, marks);
    // One conversion for the call's digests, then a slice each (not a call into the decoder per member).
    const all = digests.toString('hex');
    const hex = (k: number): string => `sha256:${all.slice(64 * k, 64 * k + 64)}`;
    let file = hashes.length;
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i];
      h?.set(hex(i));
      // Each file ended in this call: its digest follows the members'.
      if (h?.file?.last) h.file.set(hex(file++));
    }
    // The members lie end to end in `out`: handed on as one chunk, not one per member.
    return { bufs: out.length === 0 ? [] : [out], sizes: outSizes };
  }

  #start(done: Promise<Done>, bytes: number): void {
    // A failure is reported by whoever awaits it in order; until then it must not be unhandled.
    done.catch(() => {});
    this.#slots.push({ done, bytes });
    this.#inFlightBytes += bytes;
  }

  #sendBatch(): void {
    if (this.#batchSizes.length === 0) return;
    this.#start(this.#call(this.#batch, this.#batchSizes, this.#hashes), this.#batchBytes);
    this.#batch = [];
    this.#batchSizes = [];
    this.#hashes = [];
    this.#batchBytes = 0;
  }

  /**
   * Queues a member; returns the bytes of the members ready to hand on (waits while too many are in flight).
   * `hash`, when given, receives the digest of the member's first bytes before drain() ends. The
   * parts must not change afterwards, nor their buffers be transferred (the native call reads them on
   * its worker thread): they are the writer's own (tar-split.ts copies the source's chunks).
   */
  push(parts: Buffer[], bytes: number, hash?: ChunkHash): Buffer[] | Promise<Buffer[]> {
    this.#count++;
    if (this.#members) {
      for (const p of parts) this.#batch.push(p);
      this.#batchSizes.push(bytes);
      this.#hashes.push(hash);
      this.#batchBytes += bytes;
      // Most members only join the open batch: answered without a promise (one per member cost
      // the main thread more than the batching saved on small files).
      if (this.#batchBytes < BATCH_BYTES && this.#batchSizes.length < BATCH_MEMBERS) return NOTHING;
      this.#sendBatch();
    } else {
      const js = this.#js!;
      for (const p of parts) js.diff.update(p);
      if (hash) {
        const f = hash.file;
        if (f?.first) js.file = createHash('sha256');
        hash.set(hashPrefix(parts, hash.length, f ? js.file : undefined));
        if (f?.last) f.set(`sha256:${js.file!.digest('hex')}`);
      }
      this.#start(this.#engine(parts), bytes);
    }
    return this.#full() ? this.#wait() : NOTHING;
  }

  #full(): boolean {
    return this.#slots.length > this.window || (this.#inFlightBytes > this.maxBytes && this.#slots.length > 1);
  }

  async #wait(): Promise<Buffer[]> {
    const out: Buffer[] = [];
    while (this.#full()) for (const b of await this.#shift()) out.push(b);
    return out;
  }

  async #shift(): Promise<Buffer[]> {
    const slot = this.#slots.shift()!;
    this.#inFlightBytes -= slot.bytes;
    const { bufs, sizes } = await slot.done;
    for (const n of sizes) this.sizes.push(n);
    for (const b of bufs) this.#js?.blob.update(b);
    return bufs;
  }

  /** The bytes of every member still queued or in flight, in order. */
  async *drain(): AsyncGenerator<Buffer> {
    this.#sendBatch();
    while (this.#slots.length > 0) for (const b of await this.#shift()) yield b;
  }

  /**
   * Once drained: the SHA-256 ('sha256:...') of every member handed on followed by `tail` (the
   * blob), and of every member's input (the diffID); with the native calls, the seconds their two
   * hash stages were busy (each a stage of one call at a time).
   */
  digests(tail: Buffer): { digest: string; diffID: string; stats?: EstargzStats } {
    if (this.#js) {
      this.#js.blob.update(tail);
      return { digest: `sha256:${this.#js.blob.digest('hex')}`, diffID: `sha256:${this.#js.diff.digest('hex')}` };
    }
    const r = this.#native!.finish(tail);
    if (r === undefined) throw new Error('fastlayer: eStargz digests asked before every member was handed on');
    const { hashSeconds, inputHashSeconds, blobHashSeconds } = r;
    return { digest: `sha256:${r.digest.toString('hex')}`, diffID: `sha256:${r.diffID.toString('hex')}`, stats: { hashSeconds, inputHashSeconds, blobHashSeconds } };
  }

  /** Abandons what is in flight (their calls finish and are freed on their own). */
  abandon(): void {
    this.#slots.length = 0;
    this.#batch = [];
    this.#batchSizes = [];
    this.#hashes = [];
  }
}
