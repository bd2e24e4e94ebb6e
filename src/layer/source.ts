// Turns every supported layer source into one pull interface, so the Layer reads only when its
// consumer wants data (backpressure) and can stop any source the same way.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { isUint8Array } from 'node:util/types';
import { ErrInvalidChunk, ErrInvalidSource } from '../errors.js';
import { FileReader, FileSource, type FileAccess } from './file-source.js';
import { isAdoptableReadStream, ReadStreamReader } from './read-stream-source.js';

/** What `new Layer(source)` accepts. */
export type LayerSource =
  | Readable
  | NodeJS.ReadableStream
  | AsyncIterable<Uint8Array>
  | WebReadableStream<Uint8Array>
  | ReadableStream<Uint8Array>
  | Uint8Array;

export interface ChunkReader {
  /** The next chunk (may be empty), or null at the end. Rejects with ErrInvalidChunk for non-bytes. */
  next(): Promise<Uint8Array | null>;
  /** Stops the source and lets it release its resources. Idempotent, never throws, never waits. */
  close(): void;
  /**
   * Optional, for readers whose chunks are all MAX_UPDATE bytes but the last. Tells the reader that
   * its caller is done with each chunk by the time it has called next() twice more, so the memory
   * of a chunk may be recycled from then on.
   */
  reuseBuffers?(): void;
  /**
   * Optional, for readers of a file: lets an engine that reads files itself do the reading.
   * Resolves undefined when the source turns out not to be one; then next() reads it.
   */
  fileAccess?(): Promise<FileAccess | undefined>;
  /**
   * Optional, for readers that yield FLUSH_POINT (coalesce.ts): called once the engine's output up to
   * that flush point was pushed, with the number of output bytes pushed so far.
   */
  flushed?(outputBytes: number): void;
}

type Kind = 'bytes' | 'file' | 'readable' | 'web' | 'iterable';

function kindOf(source: unknown): Kind | undefined {
  if (isUint8Array(source)) return 'bytes';
  if (typeof source !== 'object' || source === null) return undefined;
  if (source instanceof FileSource) return 'file';
  const s = source as Record<PropertyKey, unknown>;
  if (source instanceof Readable || (typeof s.pipe === 'function' && typeof s.read === 'function' &&
      typeof s.destroy === 'function' && typeof s[Symbol.asyncIterator] === 'function')) {
    return 'readable';
  }
  if (typeof s.getReader === 'function' && typeof s.cancel === 'function') return 'web';
  if (typeof s[Symbol.asyncIterator] === 'function') return 'iterable';
  return undefined;
}

/** Throws ErrInvalidSource (a TypeError) unless `source` is usable as a layer source. */
export function checkSource(source: unknown): void {
  const kind = kindOf(source);
  if (kind === undefined) throw new ErrInvalidSource(source);
  if (kind === 'web' && (source as WebReadableStream).locked) {
    throw new ErrInvalidSource(source, 'the web ReadableStream is locked to another reader');
  }
}

function checked(chunk: unknown): Uint8Array {
  if (!isUint8Array(chunk)) throw new ErrInvalidChunk(chunk);
  return chunk;
}

function ignore(): void {}

class BytesReader implements ChunkReader {
  constructor(private bytes: Uint8Array | undefined) {}
  async next(): Promise<Uint8Array | null> {
    const b = this.bytes;
    this.bytes = undefined;
    return b ?? null;
  }
  close(): void {
    this.bytes = undefined;
  }
}

export class IterableReader implements ChunkReader {
  private it: AsyncIterator<unknown> | undefined;
  private closed = false;
  constructor(private readonly source: AsyncIterable<unknown>, private readonly readable?: Readable) {}

  async next(): Promise<Uint8Array | null> {
    if (this.closed) return null;
    this.it ??= this.source[Symbol.asyncIterator]();
    const r = await this.it.next();
    return r.done ? null : checked(r.value);
  }

  // Only reached when the source yielded FLUSH_POINT, which only the stream forms' FeedSource can.
  flushed(outputBytes: number): void {
    (this.source as { flushed?: (outputBytes: number) => void }).flushed?.(outputBytes);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A Readable is destroyed directly: its iterator's return() would queue behind a pending next()
    // and never run while the producer is stalled. No error is passed, so a source without an
    // 'error' listener cannot crash the process.
    if (this.readable) this.readable.destroy();
    const it = this.it;
    if (it?.return) {
      try {
        Promise.resolve(it.return()).catch(ignore);
      } catch {
        // A throwing return() is the source's own problem; the layer is already shutting down.
      }
    }
  }
}

class WebReader implements ChunkReader {
  private reader: ReadableStreamDefaultReader<unknown> | undefined;
  private closed = false;
  constructor(private readonly stream: WebReadableStream<unknown>) {}

  async next(): Promise<Uint8Array | null> {
    if (this.closed) return null;
    this.reader ??= (this.stream as unknown as ReadableStream<unknown>).getReader();
    const r = await this.reader.read();
    return r.done ? null : checked(r.value);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reader) this.reader.cancel().catch(ignore);
    else if (!this.stream.locked) this.stream.cancel().catch(ignore);
  }
}

/** Opens a source already accepted by checkSource(). Nothing is read until next() is called. */
export function openSource(source: LayerSource): ChunkReader {
  switch (kindOf(source)) {
    case 'bytes':
      return new BytesReader(source as Uint8Array);
    case 'file':
      return new FileReader(source as unknown as FileSource);
    case 'readable':
      if (isAdoptableReadStream(source)) return new ReadStreamReader(source);
      return new IterableReader(source as AsyncIterable<unknown>, source as Readable);
    case 'web':
      return new WebReader(source as WebReadableStream<unknown>);
    case 'iterable':
      return new IterableReader(source as AsyncIterable<unknown>);
    default:
      throw new ErrInvalidSource(source);
  }
}
