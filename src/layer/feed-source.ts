// The source behind the stream forms (createGzip, LayerCompressionStream): an async iterable fed by
// the writable side. A write copies its chunk into the source's own buffers and resolves once the
// copy is made, so the writer may reuse or transfer its chunk from then on (zlib's contract: a write's
// callback means the chunk is no longer needed). Backpressure is counted in bytes: a write waits
// while a full buffer is still waiting for the layer, so the writer waits exactly as long as the
// layer does not want more input, and at most two buffers are held ahead of the layer. The layer
// reads the copies through the same path as any other source: one pipeline, one engine driver.
import { ErrChunkDetached, ErrDestroyed } from '../core/errors.js';
import { FLUSH_POINT, MAX_UPDATE } from './coalesce.js';
import { Layer } from './layer.js';
import type { LayerOptions } from './options.js';
import type { Readable } from 'node:stream';

interface Waiter {
  resolve: (result: IteratorResult<Uint8Array>) => void;
  reject: (cause: unknown) => void;
}

// One engine input: the layer's coalescer then passes each full buffer as one view, without copying
// it again (the engine makes its own copy).
const BUFFER_SIZE = MAX_UPDATE;

export class FeedSource implements AsyncIterable<Uint8Array> {
  // Bytes [start, fill) of #buffer were copied in and not handed to the layer yet; bytes before
  // `start` were handed over and are never written again (the layer may still hold them).
  #buffer: Buffer | undefined;
  #start = 0;
  #fill = 0;
  /** A full buffer's bytes the layer has not taken yet (at most one). */
  #ready: Uint8Array | undefined;
  /** The write waiting for #ready to be taken. */
  #readyTaken: (() => void) | undefined;
  #waiter: Waiter | undefined;
  /** A flush point asked for: `marked` once the layer has read it, `done` when its output was pushed. */
  #flush: { marked: boolean; done: (outputBytes: number) => void } | undefined;
  #writing = false;
  #ended = false;
  #closed = false;
  #bytes = 0;

  /** Input bytes taken (copied) so far: zlib's `bytesWritten`. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /**
   * Copies one chunk into the source; resolves once it is copied (the chunk is then free to reuse).
   * Both writable sides call this strictly one chunk at a time. After close() chunks are dropped:
   * the stream is being destroyed. Rejects with ErrChunkDetached when the chunk's ArrayBuffer is
   * transferred while the write waits for room: the input would otherwise be silently shortened.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return;
    if (this.#ended || this.#writing) throw new Error('fastlayer: FeedSource.write() after end() or before the last write resolved');
    this.#writing = true;
    try {
      const length = chunk.length;
      let pos = 0;
      while (pos < length) {
        if (this.#ready) await new Promise<void>((taken) => (this.#readyTaken = taken));
        if (this.#closed) return;
        if (chunk.length !== length) throw new ErrChunkDetached();
        const buffer = (this.#buffer ??= Buffer.allocUnsafeSlow(BUFFER_SIZE));
        const n = Math.min(BUFFER_SIZE - this.#fill, length - pos);
        buffer.set(pos === 0 && n === length ? chunk : chunk.subarray(pos, pos + n), this.#fill);
        this.#fill += n;
        this.#bytes += n;
        pos += n;
        if (this.#fill === BUFFER_SIZE) this.#handOver();
      }
      // A layer already waiting for input takes what there is now rather than a full buffer later.
      if (this.#waiter) this.#handOver();
    } finally {
      this.#writing = false;
    }
  }

  /**
   * A flush point after the bytes written so far: resolves with the number of compressed bytes the
   * layer has pushed once its output up to the point was pushed (0 when the stream is closed first).
   * Called between writes, never twice at once.
   */
  flush(): Promise<number> {
    if (this.#closed) return Promise.resolve(0);
    if (this.#ended || this.#writing || this.#flush) throw new Error('fastlayer: FeedSource.flush() after end() or during a write or flush');
    return new Promise((done) => {
      this.#flush = { marked: false, done };
      // A pending read means nothing is waiting in #ready: it gets the last bytes, or the point.
      const waiter = this.#waiter;
      if (!waiter) return;
      if (this.#fill > this.#start) return this.#handOver();
      this.#waiter = undefined;
      this.#flush.marked = true;
      waiter.resolve({ value: FLUSH_POINT, done: false });
    });
  }

  /** Called by the layer once the output up to the flush point read last was pushed. */
  flushed(outputBytes: number): void {
    const flush = this.#flush;
    this.#flush = undefined;
    flush?.done(outputBytes);
  }

  /** No more chunks: the layer completes once it has taken the last bytes. */
  end(): void {
    this.#ended = true;
    // A pending read means nothing is waiting in #ready: it gets the last bytes, or the end.
    const waiter = this.#waiter;
    if (!waiter) return;
    if (this.#fill > this.#start) return this.#handOver();
    this.#waiter = undefined;
    waiter.resolve({ value: undefined, done: true });
  }

  /**
   * The layer stops reading (destroy, error, abort). A pending read rejects rather than ending: an
   * end here must never be mistaken for the end of the input. A pending write resolves, as zlib
   * calls back an in-flight write when destroyed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const taken = this.#readyTaken;
    const waiter = this.#waiter;
    const flush = this.#flush;
    this.#flush = undefined;
    flush?.done(0);
    this.#readyTaken = undefined;
    this.#waiter = undefined;
    this.#buffer = this.#ready = undefined;
    taken?.();
    waiter?.reject(new ErrDestroyed());
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Moves the copied bytes not yet handed over to the layer: to its pending read, else to #ready. */
  #handOver(): void {
    if (this.#fill === this.#start) return;
    const bytes = this.#buffer!.subarray(this.#start, this.#fill);
    if (this.#fill === BUFFER_SIZE) {
      this.#buffer = undefined;
      this.#start = this.#fill = 0;
    } else {
      this.#start = this.#fill;
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve({ value: bytes, done: false });
    } else {
      this.#ready = bytes;
    }
  }

  /**
   * What the layer reads next, if anything is there: #ready first, then the bytes copied since.
   * Only called without a pending read (#handOver then moves the bytes to #ready).
   */
  #take(): IteratorResult<Uint8Array> | undefined {
    const ready = this.#ready;
    if (ready) {
      this.#ready = undefined;
      const taken = this.#readyTaken;
      this.#readyTaken = undefined;
      taken?.();
      return { value: ready, done: false };
    }
    if (this.#fill > this.#start) {
      this.#handOver();
      return this.#take();
    }
    if (this.#flush && !this.#flush.marked) {
      this.#flush.marked = true;
      return { value: FLUSH_POINT, done: false };
    }
    return this.#ended ? { value: undefined, done: true } : undefined;
  }

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#closed) return Promise.reject(new ErrDestroyed());
    if (this.#waiter) return Promise.reject(new Error('fastlayer: FeedSource read twice at once'));
    const result = this.#take();
    if (result) return Promise.resolve(result);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }
}

/** A layer reading from a FeedSource, and its compressed stream (already requested). */
export interface FedLayer {
  layer: Layer;
  source: FeedSource;
  output: Readable;
}

/** Validates `options` through the Layer (so every Layer option and rule applies) and opens it. */
export function openFedLayer(options: LayerOptions): FedLayer {
  const source = new FeedSource();
  const layer = new Layer(source, options);
  return { layer, source, output: layer.compressed() };
}
