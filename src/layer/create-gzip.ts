// createGzip(): a Node Transform that takes the place of zlib.createGzip() in a pipeline and gives
// the layer's bytes and values. It is a Layer fed by its writable side (FeedSource) whose compressed
// stream is relayed to its readable side; destroy, errors and 'close' follow Node's zlib streams.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Compression, EngineInfo } from '../engine/engine.js';
import type { Hash } from '../hash.js';
import { openFedLayer, type FeedSource } from './feed-source.js';
import type { Layer, LayerValues } from './layer.js';
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
