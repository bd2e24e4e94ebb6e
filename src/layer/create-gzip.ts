// createGzip(): a Node Transform that takes the place of zlib.createGzip() in a pipeline and gives
// the layer's bytes and values. It is a Layer fed by its writable side (FeedSource) whose compressed
// stream is relayed to its readable side; destroy, errors and 'close' follow Node's zlib streams.
import { finished, Transform, type Readable, type TransformCallback } from 'node:stream';
import { constants as zlibConstants } from 'node:zlib';
import type { Compression, EngineInfo } from '../engine/engine.js';
import type { Hash } from '../core/hash.js';
import { openFedLayer, type FeedSource } from './feed-source.js';
import type { Layer, LayerValues } from './layer.js';
import { ErrOptionRange } from '../core/errors.js';
import { ErrNotSupported } from './errors.js';
import { nativeFlushes } from '../engine/native-engine.js';
import { splitStreamOptions, type LayerStreamOptions } from './stream-options.js';

// Input the writable side takes ahead of the layer, unless the caller sizes it: a file read in 64 KiB
// chunks keeps reading while the engine works, instead of waiting for the layer to take each chunk
// (zlib's 16 KiB made createGzip about 9% slower on a 128 MB tar, measured in bench/streams.js).
const WRITABLE_HIGH_WATER_MARK = 1024 * 1024;

export class LayerTransform extends Transform {
  /** The engine doing the work, as Layer.engine. */
  readonly engine: EngineInfo;
  readonly compressionLevel: number;
  readonly compression: Compression;
  readonly threads: number;
  /**
   * Resolves with the values once all input was compressed (by 'finish'); rejects with the cause
   * when the stream is destroyed or fails first. Never an unhandled rejection on its own.
   */
  readonly done: Promise<LayerValues>;

  readonly #layer: Layer;
  readonly #source: FeedSource;
  readonly #output: Readable;
  #flushed: TransformCallback | undefined;
  /** Compressed bytes pushed to the readable side so far, and flush() calls waiting for theirs. */
  #relayed = 0;
  #flushWaits: Array<{ bytes: number; callback: () => void }> = [];
  // Callbacks of flush() calls whose flush point the writable side has not reached yet, in order.
  // Called directly, not as write callbacks: a Transform holds a write's callback while its readable
  // side is full, and a destroy then never releases it.
  #flushCallbacks: Array<() => void> = [];

  constructor(options?: LayerStreamOptions) {
    const split = splitStreamOptions(options, true);
    const { highWaterMark, writableHighWaterMark } = split.stream;
    super({ ...split.stream, writableHighWaterMark: writableHighWaterMark ?? highWaterMark ?? WRITABLE_HIGH_WATER_MARK });
    const { layer, source, output } = openFedLayer(split.layer);
    this.#layer = layer;
    this.#source = source;
    this.#output = output;
    this.engine = layer.engine;
    this.compressionLevel = layer.compressionLevel;
    // Never 'estargz': splitStreamOptions refuses it.
    this.compression = layer.compression as Compression;
    this.threads = layer.threads;
    this.done = layer.done;
    output.on('data', (chunk: Uint8Array) => {
      // Once flushing, the rest (from at most a few MiB of input already taken) is buffered so that
      // 'finish' means "all compressed", as with zlib, even while nobody reads.
      if (!this.push(chunk) && !this.#flushed) output.pause();
      this.#relayed += chunk.length;
      this.#releaseFlushes();
    });
    output.on('end', () => this.#flushed?.());
    output.on('error', (err: Error) => this.destroy(err));
  }

  /** SHA-256 of the compressed bytes; throws ErrNotComputed until all input was compressed. */
  digest(): Hash {
    return this.#layer.digest();
  }

  /** SHA-256 of the bytes written; throws ErrNotComputed until all input was compressed. */
  diffID(): Hash {
    return this.#layer.diffID();
  }

  /** Number of compressed bytes; throws ErrNotComputed until all input was compressed. */
  size(): number {
    return this.#layer.size();
  }

  mediaType(): string {
    return this.#layer.mediaType();
  }

  /** Input bytes taken so far, as zlib's `bytesWritten` (all of them once 'finish' was emitted). */
  get bytesWritten(): number {
    return this.#source.bytesWritten;
  }

  /** As zlib's close(): destroys the stream; `callback` runs once it has closed (finished()'s rules). */
  close(callback?: (error?: Error | null) => void): void {
    if (callback) finished(this, callback);
    this.destroy();
  }

  /**
   * zlib's flush([kind][, callback]). Once the input has ended it behaves as zlib's (the callback
   * runs at 'end', or at once after 'finish'). Before that, every kind but Z_NO_FLUSH is a sync flush
   * point: once the callback runs, the output pushed so far decodes to all input written before the
   * flush. A flush point changes the bytes after it, and so the digest (docs/STREAMS.md). Only the js
   * engine's zstd (node:zlib, whose frames cannot be ended on request) and a native addon built
   * before flush points have none: ErrNotSupported (code ERR_NOT_SUPPORTED), and the stream stays usable.
   */
  flush(kind?: number | (() => void), callback?: () => void): void {
    if (typeof kind === 'function') {
      callback = kind;
      kind = undefined;
    }
    if (kind !== undefined && FLUSH_NAMES[kind] === undefined) {
      throw new ErrOptionRange('kind', 'one of zlib.constants Z_NO_FLUSH, Z_PARTIAL_FLUSH, Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_FINISH, Z_BLOCK', kind);
    }
    if (this.writableFinished) {
      if (callback) process.nextTick(callback);
    } else if (this.writableEnded) {
      if (callback) this.once('end', callback);
    } else if (kind === zlibConstants.Z_NO_FLUSH) {
      // zlib's no-op flush: calls back once the writes before it were taken.
      this.write(Buffer.alloc(0), () => callback?.());
    } else if (this.#canFlush()) {
      if (this.destroyed) {
        if (callback) process.nextTick(callback);
        return;
      }
      this.#flushCallbacks.push(callback ?? ignore);
      this.write(FLUSH_CHUNK);
    } else {
      throw new ErrNotSupported(
        `flush(${kind === undefined ? '' : flushName(kind)})`,
        `the ${this.engine.name} engine cannot end ${this.compression === 'zstd' ? 'a zstd frame' : 'a deflate block'} on request ` +
          '(the js engine\'s zstd and native addons built before flush points have none); the output decodes once end() was called',
      );
    }
  }

  // The engines that can end the output so far at a decodable point: 'none' (nothing held back), the
  // js engine's deflate, and the native addon's gzip and zstd when it has a flush call.
  #canFlush(): boolean {
    if (this.compression === 'none') return true;
    if (this.engine.name === 'native') return nativeFlushes();
    return this.compression === 'gzip';
  }

  #releaseFlushes(): void {
    while (this.#flushWaits.length > 0 && this.#flushWaits[0]!.bytes <= this.#relayed) this.#flushWaits.shift()!.callback();
  }

  /**
   * zlib's params(level, strategy, callback): with this stream's level and the default strategy it
   * calls back, as zlib does when nothing changes; any change throws ErrNotSupported.
   */
  params(level: number, strategy: number, callback?: () => void): void {
    const same = (level === this.compressionLevel || (level === zlibConstants.Z_DEFAULT_COMPRESSION && this.compressionLevel === defaultLevel(this.compression))) &&
      (strategy === zlibConstants.Z_DEFAULT_STRATEGY || strategy === undefined);
    if (!same) {
      throw new ErrNotSupported(
        'params()',
        'the level and strategy are fixed for the whole layer (its bytes are defined by one level, and the ' +
          'native engine cannot change it mid-stream); create the stream with the level wanted',
      );
    }
    if (callback) process.nextTick(callback);
  }

  /** zlib's reset() would start a new stream in this one; a layer is one stream: ErrNotSupported. */
  reset(): never {
    throw new ErrNotSupported('reset()', 'a layer is a single pass over its input; create a new stream instead');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk === FLUSH_CHUNK) {
      // Calls back once the output up to the flush point is on the readable side (as zlib's).
      const flushed = this.#flushCallbacks.shift() ?? ignore;
      this.#source.flush().then((bytes) => {
        this.#flushWaits.push({
          bytes,
          callback: () => {
            flushed();
            callback();
          },
        });
        this.#releaseFlushes();
      }, callback);
      return;
    }
    this.#source.write(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#flushed = callback;
    this.#source.end();
    this.#output.resume();
  }

  override _read(size: number): void {
    // Transform's own _read releases a write held back while the readable side was full.
    super._read(size);
    this.#output.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Fails the layer (done rejects with `error`, or ErrDestroyed) and releases the engine.
    this.#output.destroy(error ?? undefined);
    this.#source.close();
    // Every flush() calls back, as zlib's do on destroy: those waiting for their output to be relayed,
    // and those not reached yet (their writes are dropped).
    const waits = this.#flushWaits;
    const pending = this.#flushCallbacks;
    this.#flushWaits = [];
    this.#flushCallbacks = [];
    for (const wait of waits) wait.callback();
    for (const flushed of pending) process.nextTick(flushed);
    callback(error);
  }
}

function ignore(): void {}

// Written by flush() to mark a flush point in the writable side's order, as zlib does; never a chunk
// of a caller's (compared by identity).
const FLUSH_CHUNK = Buffer.alloc(0);

// zlib's level sentinel -1 resolved for params(), as the stream options resolve it.
function defaultLevel(compression: Compression): number {
  return compression === 'zstd' ? 3 : 6;
}

const FLUSH_NAMES: Readonly<Record<number, string>> = {
  [zlibConstants.Z_NO_FLUSH]: 'Z_NO_FLUSH',
  [zlibConstants.Z_PARTIAL_FLUSH]: 'Z_PARTIAL_FLUSH',
  [zlibConstants.Z_SYNC_FLUSH]: 'Z_SYNC_FLUSH',
  [zlibConstants.Z_FULL_FLUSH]: 'Z_FULL_FLUSH',
  [zlibConstants.Z_FINISH]: 'Z_FINISH',
  [zlibConstants.Z_BLOCK]: 'Z_BLOCK',
};

function flushName(kind: unknown): string {
  return typeof kind === 'number' && FLUSH_NAMES[kind] !== undefined ? `zlib.constants.${FLUSH_NAMES[kind]}` : String(kind);
}

/**
 * A Transform that replaces zlib.createGzip() in a pipeline: bytes in, the layer's compressed bytes
 * out (the same bytes as `new Layer(input, options)`), with digest(), diffID(), size() and `done`.
 * Takes the Layer's options (any compression, not only gzip), `level` as zlib's alias, and the
 * stream buffer sizes; refuses zlib's deflate options with a coded TypeError.
 */
export function createLayerStream(options?: LayerStreamOptions): LayerTransform {
  return new LayerTransform(options);
}

/** The zlib-shaped name of createLayerStream(): `pipeline(src, createGzip({ level: 1 }), dest)`. */
export const createGzip: (options?: LayerStreamOptions) => LayerTransform = createLayerStream;
