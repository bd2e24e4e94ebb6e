// The source behind the stream forms (createGzip, LayerCompressionStream): an async iterable fed by
// the writable side one chunk at a time. A write resolves when the layer has taken its chunk, so the
// writer waits exactly as long as the layer does not want more input (backpressure), and the layer
// reads the fed chunks through the same path as any other source: one pipeline, one engine driver.
import { ErrDestroyed } from '../errors.js';
import { Layer } from './layer.js';
import type { LayerOptions } from './options.js';
import type { Readable } from 'node:stream';

interface Offer {
  chunk: Uint8Array;
  taken: () => void;
}

interface Waiter {
  resolve: (result: IteratorResult<Uint8Array>) => void;
  reject: (cause: unknown) => void;
}

export class FeedSource implements AsyncIterable<Uint8Array> {
  #offer: Offer | undefined;
  #waiter: Waiter | undefined;
  #ended = false;
  #closed = false;

  /**
   * Hands one chunk to the layer; resolves once the layer has taken it (the chunk is then referenced
   * until the engine is done with it, as by any buffering stream). Both writable sides call this
   * strictly one chunk at a time. After close() chunks are dropped: the stream is being destroyed.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#ended || this.#offer) throw new Error('fastlayer: FeedSource.write() after end() or before the last write resolved');
    return new Promise((taken) => {
      const waiter = this.#waiter;
      if (waiter) {
        this.#waiter = undefined;
        taken();
        waiter.resolve({ value: chunk, done: false });
      } else {
        this.#offer = { chunk, taken };
      }
    });
  }

  /** No more chunks: the layer completes once it has taken the last one. */
  end(): void {
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve({ value: undefined, done: true });
  }

  /**
   * The layer stops reading (destroy, error, abort). A pending read rejects rather than ending: an
   * end here must never be mistaken for the end of the input. A pending write resolves, as zlib
   * calls back an in-flight write when destroyed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const offer = this.#offer;
    const waiter = this.#waiter;
    this.#offer = undefined;
    this.#waiter = undefined;
    offer?.taken();
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

  #next(): Promise<IteratorResult<Uint8Array>> {
    if (this.#closed) return Promise.reject(new ErrDestroyed());
    const offer = this.#offer;
    if (offer) {
      this.#offer = undefined;
      offer.taken();
      return Promise.resolve({ value: offer.chunk, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter) return Promise.reject(new Error('fastlayer: FeedSource read twice at once'));
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
