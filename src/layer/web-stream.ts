// LayerCompressionStream: the counterpart of the global CompressionStream('gzip') for web streams,
// `readable.pipeThrough(new LayerCompressionStream())`, with the layer's values. Like
// CompressionStream it is a readable/writable pair (not a TransformStream subclass): a Layer fed by
// the writable side, its compressed stream pulled by the readable side, so both sides keep the web
// streams' queuing and backpressure, and an error, abort or cancel on either side reaches the other.
import type { Readable } from 'node:stream';
import { ReadableStream, WritableStream } from 'node:stream/web';
import type { ReadableStreamDefaultController, WritableStreamDefaultController } from 'node:stream/web';
import { isAnyArrayBuffer, isUint8Array } from 'node:util/types';
import type { Compression, EngineInfo } from '../engine/engine.js';
import { ErrChunkDetached, ErrInvalidChunk } from '../core/errors.js';
import type { Hash } from '../core/hash.js';
import { openFedLayer } from './feed-source.js';
import type { Layer, LayerValues } from './layer.js';
import { splitStreamOptions, type LayerCompressionStreamOptions } from './stream-options.js';

/** A BufferSource, as CompressionStream takes: an ArrayBuffer or any view of one. */
export type BufferSourceChunk = ArrayBufferView | ArrayBufferLike;

function bytesOf(chunk: unknown): Uint8Array {
  if (isUint8Array(chunk)) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (isAnyArrayBuffer(chunk)) return new Uint8Array(chunk);
  // The spec's CompressionStream throws a TypeError for anything but a BufferSource (strings too).
  throw new ErrInvalidChunk(chunk);
}

const WRITABLE_HIGH_WATER_MARK = 1024 * 1024;

// Queue size of a written chunk; anything else is refused by write() itself, so counts as one byte.
// A chunk whose ArrayBuffer was transferred has no length any more (a DataView's throws): -1.
function byteLength(chunk: unknown): number {
  try {
    return ArrayBuffer.isView(chunk) || isAnyArrayBuffer(chunk) ? chunk.byteLength : 1;
  } catch {
    return -1;
  }
}

// Stream errors and Layer failures want an Error; an abort or cancel reason can be any value.
function asError(reason: unknown): Error | undefined {
  if (reason === undefined || reason instanceof Error) return reason;
  return Object.assign(new Error(String(reason)), { cause: reason });
}

export class LayerCompressionStream {
  /** The compressed layer bytes. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Takes the layer's input: Uint8Array, any other ArrayBufferView, or ArrayBuffer chunks. */
  readonly writable: WritableStream<BufferSourceChunk>;
  readonly engine: EngineInfo;
  readonly compressionLevel: number;
  readonly compression: Compression;
  readonly threads: number;
  /**
   * Resolves with the values once all input was compressed (by the time writer.close() resolves);
   * rejects with the cause on an error, abort or cancel. Never an unhandled rejection on its own.
   */
  readonly done: Promise<LayerValues>;
  readonly #layer: Layer;

  constructor(options?: LayerCompressionStreamOptions) {
    const { layer, source, output } = openFedLayer(splitStreamOptions(options, false).layer);
    this.#layer = layer;
    this.engine = layer.engine;
    this.compressionLevel = layer.compressionLevel;
    // Never 'estargz': splitStreamOptions refuses it.
    this.compression = layer.compression as Compression;
    this.threads = layer.threads;
    this.done = layer.done;

    let readableController!: ReadableStreamDefaultController<Uint8Array>;
    let writableController!: WritableStreamDefaultController;
    // Each queued chunk's length when write() was called: a chunk transferred while it waited in the
    // queue must fail the stream, not be taken as fewer (or no) bytes.
    const queued = new WeakMap<object, number>();
    const queueSize = (chunk: unknown): number => {
      const n = byteLength(chunk);
      if (typeof chunk === 'object' && chunk !== null) queued.set(chunk, n);
      return n;
    };
    let failed = false;
    const fail = (reason: unknown): void => {
      if (failed) return;
      failed = true;
      readableController.error(reason);
      writableController.error(reason);
      output.destroy(asError(reason));
      source.close();
    };
    output.on('error', fail);

    const reader = new OutputReader(output, (chunk) => readableController.enqueue(chunk), () => readableController.close());
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          readableController = controller;
        },
        pull: () => reader.read(false).catch((err: unknown) => fail(err)),
        cancel: (reason) => fail(reason),
      },
      // As TransformStream's readable side: nothing read ahead beyond what the layer buffers itself.
      { highWaterMark: 0 },
    );
    this.writable = new WritableStream<BufferSourceChunk>(
      {
        start: (controller) => {
          writableController = controller;
        },
        write: async (chunk) => {
          try {
            const expected = queued.get(chunk);
            if (expected !== undefined && byteLength(chunk) !== expected) throw new ErrChunkDetached();
            // Copied by the layer before this resolves: the writer may reuse or transfer it after.
            await source.write(bytesOf(chunk));
          } catch (err) {
            fail(err);
            throw err;
          }
        },
        // Like a TransformStream's flush, the rest of the output is queued without waiting for the
        // reader (a few MiB at most: only input the layer has already taken is left).
        close: async () => {
          source.end();
          try {
            await reader.read(true);
          } catch (err) {
            fail(err);
            throw err;
          }
        },
        abort: (reason) => fail(reason),
      },
      // The pipe feeding this side reads ahead up to 1 MiB of input while the layer works (as
      // createGzip's writable side); counted in bytes, so small chunks do not pile up by the thousand.
      { highWaterMark: WRITABLE_HIGH_WATER_MARK, size: queueSize },
    );
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
}

/** Reads the layer's compressed stream one chunk at a time, never two reads at once. */
class OutputReader {
  readonly #chunks: AsyncIterator<Uint8Array>;
  #queue: Promise<void> = Promise.resolve();
  #ended = false;

  constructor(output: Readable, private readonly enqueue: (chunk: Uint8Array) => void, private readonly close: () => void) {
    this.#chunks = output[Symbol.asyncIterator]();
    // The layer takes input before the first read, as a TransformStream transforms before it is
    // read: the writer is held back only once the layer's own output buffer is full.
    output.read(0);
  }

  /** One chunk, or (all) every chunk up to the end. */
  read(all: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      do {
        if (this.#ended) return;
        const r = await this.#chunks.next();
        if (r.done) {
          this.#ended = true;
          this.close();
        } else {
          this.enqueue(r.value);
        }
      } while (all);
    };
    const next = this.#queue.then(run);
    // A failed read fails the stream (the caller's catch); the next read must not see it again.
    this.#queue = next.catch(() => {});
    return next;
  }
}
