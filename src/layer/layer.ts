// The public Layer: go-containerregistry's stream.Layer for Node, with stricter semantics (values
// only after the complete stream, never for partial data; see README "Go parity").
import { Readable } from 'node:stream';
import type { Compression, Engine, EngineFactory, EngineInfo, EngineResult } from '../engine/engine.js';
import { ErrConsumed, ErrNotComputed } from '../core/errors.js';
import { estargzAnnotations } from '../estargz/annotations.js';
import { MAX_ESTARGZ_THREADS } from '../estargz/options.js';
import type { EstargzResult } from '../estargz/writer.js';
import { estargzStream } from './estargz-stream.js';
import { ErrNotSupported } from './errors.js';
import { fileSource, type FileRange } from './file-source.js';
import { selectEngine } from '../engine/engines.js';
import { Hash } from '../core/hash.js';
import { LayerStream, type StreamKind } from './layer-stream.js';
import { resolveOptions, type LayerCompression, type LayerOptions, type ResolvedEstargzLayerOptions } from './options.js';
import { checkSource, openSource, type ChunkReader, type LayerSource } from './source.js';
import { onAbort } from './abort-fanout.js';
import { threadBudget, type ThreadGrant } from '../engine/budget.js';

export interface LayerValues {
  /** SHA-256 of the compressed bytes (equals diffID for compression 'none'). */
  digest: Hash;
  /** SHA-256 of the uncompressed input. */
  diffID: Hash;
  /** Number of compressed bytes. */
  size: number;
  mediaType: string;
  /**
   * The descriptor's annotations, for layers that have some: an eStargz layer's TOC digest and
   * uncompressed size (docs/ESTARGZ.md).
   */
  annotations?: Readonly<Record<string, string>>;
  /** An eStargz layer's TOC: its digest, entries, chunks, landmark (the writer's values). */
  estargz?: Readonly<EstargzResult>;
}

/** The descriptor of a layer's values: media type, digest, size, and its annotations if it has any. */
export function layerDescriptor(v: LayerValues): { mediaType: string; digest: string; size: number; annotations?: Record<string, string> } {
  return { mediaType: v.mediaType, digest: v.digest.toString(), size: v.size, ...(v.annotations ? { annotations: { ...v.annotations } } : {}) };
}

function ignore(): void {}

const listeners = new FinalizationRegistry<() => void>((unsubscribe) => unsubscribe());
// A layer opened and then dropped unfinished (never read to the end, never destroyed) gives its
// threads back when it is collected. The callback holds the grant, never the layer.
const grants = new FinalizationRegistry<ThreadGrant>((grant) => grant.release());

let setThreadCap: (layer: Layer, threads: number) => void;

/**
 * Caps the threads `layer` compresses on, before its stream is opened: the writer of several layers
 * at once passes what the process's thread budget granted it (src/engine/budget.ts). The bytes do
 * not depend on it. An opened layer keeps the threads it started with.
 */
export function capThreads(layer: Layer, threads: number): void {
  setThreadCap(layer, threads);
}

export class Layer {
  /** The engine doing the work: 'native' or 'js', with versions of its parts. */
  readonly engine: EngineInfo;
  readonly compressionLevel: number;
  readonly compression: LayerCompression;
  /** The eStargz options of an 'estargz' layer (every field resolved); undefined otherwise. */
  readonly estargz: Readonly<ResolvedEstargzLayerOptions> | undefined;
  /**
   * The `threads` option as resolved (given, or its default): the most threads the layer may
   * compress on at once, i.e. what it asks for. What it gets is decided when its stream opens, by the
   * process's thread budget (fewer when fewer are free), and is not reported here. The bytes do not
   * depend on either.
   */
  readonly threads: number;
  /** Resolves with the values once the stream was fully produced; rejects with the cause otherwise. */
  readonly done: Promise<LayerValues>;

  readonly #factory: EngineFactory;
  readonly #mediaType: string;
  readonly #signal: AbortSignal | undefined;
  #reader: ChunkReader | undefined;
  #stream: Readable | undefined;
  #values: LayerValues | undefined;
  #failure: { cause: unknown } | undefined;
  #consumed = false;
  #resolve!: (values: LayerValues) => void;
  #reject!: (cause: unknown) => void;
  #unsubscribe: (() => void) | undefined;
  #threadCap = Infinity;
  // Granted by whoever capped the threads (writeImage): the layer does not take its own.
  #scheduled = false;
  #grant: ThreadGrant | undefined;

  static {
    setThreadCap = (layer, threads) => {
      layer.#threadCap = Math.max(1, Math.floor(threads));
      layer.#scheduled = true;
    };
  }

  constructor(source: LayerSource, options?: LayerOptions) {
    checkSource(source);
    const o = resolveOptions(options);
    // An eStargz layer's members are gzip streams on this engine (the writer selects it the same way).
    this.#factory = selectEngine(o.engine, { level: o.level, compression: o.compression === 'estargz' ? 'gzip' : o.compression });
    this.engine = Object.freeze({ name: this.#factory.name, details: this.#factory.details });
    this.compressionLevel = o.level;
    this.compression = o.compression;
    this.estargz = o.estargz === undefined ? undefined : Object.freeze({ ...o.estargz, prioritize: Object.freeze([...o.estargz.prioritize]) as string[] });
    this.threads = o.threads;
    this.#mediaType = o.mediaType;
    this.#reader = openSource(source);
    this.done = new Promise<LayerValues>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // The stream reports the failure itself; an unobserved `done` must not crash the process.
    this.done.catch(ignore);
    this.#signal = o.signal;
    if (o.signal?.aborted) this.#abort();
    else if (o.signal) this.#listen(o.signal);
  }

  /**
   * A layer of a file, or of bytes `start` to `end` (inclusive, as fs.createReadStream takes them).
   * Faster than a ReadStream: the file is read in 1 MiB pieces into reused memory, and by the native
   * engine itself for compressed(). The file is opened when the stream is first read; a missing
   * file fails that stream (and `done`) with the fs error (ENOENT, ...).
   */
  static fromFile(path: string | Buffer | URL, options?: LayerOptions & FileRange): Layer {
    const { source, rest } = fileSource(path, options);
    return new Layer(source as unknown as LayerSource, rest as LayerOptions | undefined);
  }

  /** The compressed layer bytes. A layer is consumed once: a second call throws ErrConsumed. */
  compressed(): Readable {
    return this.#open('compressed');
  }

  /**
   * The original bytes, while the same pass still compresses (and discards) them to compute digest
   * and size. Counts as the single consumption, like compressed().
   */
  uncompressed(): Readable {
    if (this.compression === 'estargz') {
      throw new ErrNotSupported('uncompressed() of an eStargz layer', "the blob's tar is not the source (it adds the TOC and a landmark): read compressed()");
    }
    return this.#open('uncompressed');
  }

  /** SHA-256 of the compressed bytes; throws ErrNotComputed before the stream has ended. */
  digest(): Hash {
    return this.#get('digest').digest;
  }

  /** SHA-256 of the uncompressed bytes; throws ErrNotComputed before the stream has ended. */
  diffID(): Hash {
    return this.#get('diffID').diffID;
  }

  /** Compressed size in bytes; throws ErrNotComputed before the stream has ended. */
  size(): number {
    return this.#get('size').size;
  }

  mediaType(): string {
    return this.#mediaType;
  }

  #get(what: string): LayerValues {
    if (!this.#values) throw new ErrNotComputed(what);
    return this.#values;
  }

  #open(kind: StreamKind): Readable {
    if (this.#consumed) throw new ErrConsumed();
    this.#consumed = true;
    const reader = this.#reader!;
    this.#reader = undefined;
    // Failed before the stream existed (aborted): the consumer still sees the cause on the stream.
    if (this.#failure) return failedStream(this.#failure.cause);
    // From here the layer is consumed: whatever fails before its stream exists (the thread budget, an
    // engine or the eStargz writer that cannot start) closes the source, rejects `done` and fails the
    // stream returned, so that `done` always settles and the source is always let go.
    let engine: Engine | undefined;
    try {
      // eStargz members compress on the same budget's threads as engine units do.
      const threads = this.#takeThreads();
      if (this.estargz !== undefined) {
        const o = { ...this.estargz, prioritize: [...this.estargz.prioritize], level: this.compressionLevel, threads, engine: this.engine.name };
        this.#stream = estargzStream(reader, o, (r) => this.#completeEstargz(r), (cause) => this.#fail(cause));
        return this.#stream;
      }
      engine = this.#factory.create({ level: this.compressionLevel, compression: this.compression as Compression, threads });
      this.#stream = new LayerStream(reader, engine, kind, {
        complete: (result) => this.#complete(result),
        fail: (cause) => this.#fail(cause),
      });
      return this.#stream;
    } catch (err) {
      this.#fail(err);
      reader.close();
      engine?.destroy();
      return failedStream(err);
    }
  }

  // A standalone layer takes its threads from the process's budget as its engine starts, and gives
  // them back when it ends, fails or is destroyed (#releaseThreads), or is collected unfinished. It never
  // waits for them (the budget's tryAcquire says why): when none is free it compresses on one thread,
  // its calling thread, outside the budget.
  #takeThreads(): number {
    // The eStargz writer uses at most MAX_ESTARGZ_THREADS: a grant of more would idle the rest.
    const cap = this.estargz === undefined ? this.#threadCap : Math.min(this.#threadCap, MAX_ESTARGZ_THREADS);
    const want = Math.min(this.threads, cap);
    if (this.#scheduled) return want;
    const grant = threadBudget().tryAcquire(want);
    if (!grant) return 1;
    this.#grant = grant;
    grants.register(this, grant, grant);
    return grant.threads;
  }

  #releaseThreads(): void {
    const grant = this.#grant;
    if (!grant) return;
    this.#grant = undefined;
    grants.unregister(grant);
    grant.release();
  }

  #complete(result: EngineResult): void {
    this.#releaseThreads();
    this.#values = Object.freeze({
      digest: new Hash('sha256', result.digest),
      diffID: new Hash('sha256', result.diffID),
      size: result.size,
      mediaType: this.#mediaType,
    });
    this.#detach();
    this.#resolve(this.#values);
  }

  #completeEstargz(r: EstargzResult): void {
    this.#releaseThreads();
    this.#values = Object.freeze({
      digest: Hash.parse(r.digest),
      diffID: Hash.parse(r.diffID),
      size: r.size,
      mediaType: this.#mediaType,
      annotations: Object.freeze(estargzAnnotations(r)),
      estargz: Object.freeze({ ...r }),
    });
    this.#detach();
    this.#resolve(this.#values);
  }

  #fail(cause: unknown): void {
    this.#releaseThreads();
    if (this.#values || this.#failure) return;
    this.#failure = { cause };
    this.#detach();
    this.#reader?.close();
    this.#reader = undefined;
    this.#reject(cause);
  }

  #abort(): void {
    const reason: unknown = this.#signal?.reason ?? new Error('aborted');
    // `done` rejects with the reason itself, whatever its type; the stream needs an Error.
    this.#fail(reason);
    this.#stream?.destroy(toError(reason));
  }

  // A long-lived signal (one per build, say) must not keep abandoned layers, their streams and native
  // pipelines alive: the callback reaches the layer only through a WeakRef, and is removed when the
  // layer is collected. The layers of one signal share one listener (abort-fanout.ts): no
  // MaxListenersExceededWarning however many are in flight.
  #listen(signal: AbortSignal): void {
    const ref = new WeakRef<Layer>(this);
    const unsubscribe = onAbort(signal, () => {
      const layer = ref.deref();
      if (layer) layer.#abort();
    });
    this.#unsubscribe = unsubscribe;
    listeners.register(this, unsubscribe, this);
  }

  #detach(): void {
    if (!this.#unsubscribe) return;
    this.#unsubscribe();
    this.#unsubscribe = undefined;
    listeners.unregister(this);
  }
}

function failedStream(cause: unknown): Readable {
  const stream = new Readable({ read: ignore });
  stream.destroy(toError(cause));
  return stream;
}

// Readable.destroy() wants an Error; an abort reason can be any value.
function toError(cause: unknown): Error {
  return cause instanceof Error ? cause : Object.assign(new Error(String(cause)), { cause });
}
