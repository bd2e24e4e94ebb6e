// createGzip(): a Node Transform that takes the place of zlib.createGzip() in a pipeline and gives
// the layer's bytes and values. It is a Layer fed by its writable side (FeedSource) whose compressed
// stream is relayed to its readable side; destroy, errors and 'close' follow Node's zlib streams.
import { finished, Transform, type Readable, type TransformCallback } from 'node:stream';
import { constants as zlibConstants } from 'node:zlib';
import type { Compression, EngineInfo } from '../engine/engine.js';
import type { Hash } from '../hash.js';
import { openFedLayer, type FeedSource } from './feed-source.js';
import type { Layer, LayerValues } from './layer.js';
import { ErrNotSupported } from './errors.js';
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
    this.compression = layer.compression;
    this.threads = layer.threads;
    this.done = layer.done;
    output.on('data', (chunk: Uint8Array) => {
      // Once flushing, the rest (from at most a few MiB of input already taken) is buffered so that
      // 'finish' means "all compressed", as with zlib, even while nobody reads.
      if (!this.push(chunk) && !this.#flushed) output.pause();
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
   * runs at 'end', or at once after 'finish'). Before that a flush point would need the engine to end
   * a deflate block or zstd frame mid-unit, which neither engine offers: throws ErrNotSupported
   * (code ERR_NOT_SUPPORTED); the stream stays usable.
   */
  flush(kind?: number | (() => void), callback?: () => void): void {
    if (typeof kind === 'function') {
      callback = kind;
      kind = undefined;
    }
    if (this.writableFinished) {
      if (callback) process.nextTick(callback);
    } else if (this.writableEnded) {
      if (callback) this.once('end', callback);
    } else {
      throw new ErrNotSupported(
        `flush(${kind === undefined ? '' : flushName(kind)})`,
        'format v1 ends deflate blocks and zstd frames only at fixed input offsets, and neither engine can flush ' +
          'the bytes of a partial block on request; the output decodes once end() was called',
      );
    }
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
        'the level and strategy are fixed for the whole layer (a change mid-stream would be a flush point, ' +
          'which the engines cannot make); create the stream with the level wanted',
      );
    }
    if (callback) process.nextTick(callback);
  }

  /** zlib's reset() would start a new stream in this one; a layer is one stream: ErrNotSupported. */
  reset(): never {
    throw new ErrNotSupported('reset()', 'a layer is a single pass over its input; create a new stream instead');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
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
    callback(error);
  }
}

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
