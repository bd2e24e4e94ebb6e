// The chunk readers every layer source becomes (the pull interface the Layer reads through), and
// the ones for in-memory bytes, async iterables and web streams. A leaf module: file-source.ts,
// read-stream-source.ts and coalesce.ts implement or wrap ChunkReader without importing source.ts,
// which imports them to choose a reader.
import type { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { isUint8Array } from 'node:util/types';
import { ErrInvalidChunk } from '../core/errors.js';
import { isFresh } from '../core/fresh-chunks.js';

/** Reads by the engine itself: the descriptor, where to read (-1: at its own position) and how much. */
/** `continues`: the read starts where the one before it ends, and may be made before that one settles. */
export type FileRead<T extends { bytesRead: number }> = (fd: number, position: number, length: number, continues: boolean) => Promise<T>;

/** What a reader of a file offers an engine that can read files itself (the native one). */
export interface FileAccess {
  /**
   * Runs `read` as the reader's next read, of up to `length` bytes (default: MAX_UPDATE, 1 MiB); null
   * once the range is exhausted or the reader closed. `ahead`: the read after it is made at once,
   * with `continues`, so that it is already queued when this one ends (the native engine on one
   * thread); each call then passes the same `read` and `length`.
   */
  readVia<T extends { bytesRead: number }>(read: FileRead<T>, length?: number, ahead?: boolean): Promise<T | null>;
}

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
   * Optional: whether each chunk next() returned so far is memory of its own that the reader never
   * changes, reuses, transfers or hands to anyone else (src/core/fresh-chunks.ts), so that a consumer
   * may keep it without a copy. Asked after next(); false or absent means copy.
   */
  freshChunks?(): boolean;
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

function checked(chunk: unknown): Uint8Array {
  if (!isUint8Array(chunk)) throw new ErrInvalidChunk(chunk);
  return chunk;
}

function ignore(): void {}

export class BytesReader implements ChunkReader {
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

  /** Only the project's own iterables (tarDirectory's) say so. */
  freshChunks(): boolean {
    return isFresh(this.source);
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

export class WebReader implements ChunkReader {
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

