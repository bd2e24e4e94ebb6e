// Files read without fs.createReadStream's costs: a fresh 64 KiB Buffer per read (page faults, GC) and
// a threadpool round trip per 64 KiB cost about half as much CPU as ISA-L level 1 itself. Here each
// read fills MAX_UPDATE bytes, and when the layer only needs the bytes until the engine has taken
// them (compressed()), two buffers are reused in turn.
import * as fs from 'node:fs';
import * as net from 'node:net';
import { isUint8Array } from 'node:util/types';
import { MAX_UPDATE } from './coalesce.js';
import { ErrInvalidOption, ErrInvalidSource, ErrOptionRange } from '../core/errors.js';
import type { ChunkReader, FileAccess, FileRead } from './readers.js';

export type { FileAccess, FileRead } from './readers.js';

/** A byte range of a file, as fs.createReadStream takes it: `end` is inclusive. */
export interface FileRange {
  start?: number;
  end?: number;
}

/** What Layer.fromFile() hands to the Layer constructor. */
export class FileSource {
  constructor(readonly path: fs.PathLike, readonly start: number, readonly end: number) {}
}

function position(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new ErrInvalidOption(name, 'a number', value);
  if (!(Number.isSafeInteger(value) && value >= 0) && !(name === 'end' && value === Infinity)) {
    throw new ErrOptionRange(name, 'an integer >= 0', value);
  }
  return value;
}

/**
 * Validates Layer.fromFile()'s arguments: the path, and `start`/`end` taken out of `options`.
 * Returns the source and the remaining (Layer) options.
 */
export function fileSource(path: unknown, options: unknown): { source: FileSource; rest: unknown } {
  const isPath = (typeof path === 'string' && path !== '') || isUint8Array(path) || path instanceof URL;
  if (!isPath) throw new ErrInvalidSource(path, `the file path must be a non-empty string, a Buffer or a file: URL; got ${typeof path}`);
  if (typeof options !== 'object' || options === null) return { source: new FileSource(path as fs.PathLike, 0, Infinity), rest: options };
  const { start, end, ...rest } = options as FileRange;
  const from = position('start', start, 0);
  const to = position('end', end, Infinity);
  if (to < from) throw new ErrOptionRange('end', `an integer >= start (${from})`, to);
  return { source: new FileSource(path as fs.PathLike, from, to), rest };
}

function ignore(): void {}

/** A promise kept for a later call, which may never come: its failure is not an unhandled rejection. */
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(ignore);
  return promise;
}

const read = (fd: number, buffer: Buffer, offset: number, length: number, position: number | null) =>
  new Promise<number>((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

// O_NONBLOCK: opening a FIFO must not hold a threadpool thread until a writer comes (it returns at
// once); on a regular file or a directory the flag changes nothing. What is read how is then
// decided from fstat() of the descriptor itself (fileReaderFor).
const OPEN_FLAGS = fs.constants.O_NONBLOCK === undefined ? 'r' : fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

export const openFile = (path: fs.PathLike) =>
  new Promise<number>((resolve, reject) => fs.open(path, OPEN_FLAGS, (err, fd) => (err ? reject(err) : resolve(fd))));

export const fstat = (fd: number) =>
  new Promise<fs.Stats>((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));

/**
 * Reads [start, end] of an open file descriptor, which it closes once done or closed. A descriptor
 * that cannot seek (a character device) is read where it stands, from the start.
 */
export class FdReader implements ChunkReader, FileAccess {
  private position: number;
  private remaining: number;
  private reuse = false;
  private readonly spares: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  private turn = 0;
  private closed = false;
  private reading: Promise<unknown> | undefined;
  /** The read made ahead (readVia with `ahead`): where it starts, how much it asked for, its result. */
  private next_: { position: number; want: number; result: Promise<unknown> } | undefined;

  constructor(
    private fd: number | undefined,
    start: number,
    end: number,
    private readonly seekable: boolean,
    private readonly onClose: () => void,
  ) {
    this.position = start;
    this.remaining = end - start + 1;
  }

  /** A regular file: its reads never wait on a producer, so the engine may do them itself. */
  get regular(): boolean {
    return this.seekable;
  }

  async readVia<T extends { bytesRead: number }>(readFile: FileRead<T>, length = MAX_UPDATE, ahead = false): Promise<T | null> {
    if (this.closed || this.fd === undefined || this.remaining <= 0) return this.end();
    const want = Math.min(length, this.remaining);
    const next = this.next_;
    this.next_ = undefined;
    // The read made ahead by the previous call is this one whenever the range goes on as expected.
    const pending =
      next !== undefined && next.position === this.position && next.want === want
        ? (next.result as Promise<T>)
        : readFile(this.fd, this.seekable ? this.position : -1, want, false);
    if (ahead && this.seekable && this.remaining > want) {
      // It continues this one: it reads nothing if this one reaches the end of the file first.
      const position = this.position + want;
      const nextWant = Math.min(length, this.remaining - want);
      this.next_ = { position, want: nextWant, result: settledLater(readFile(this.fd, position, nextWant, true)) };
    }
    // The descriptor stays open until every read made with it has settled (close()).
    this.reading = Promise.allSettled([pending, this.next_?.result]);
    const result = await pending;
    if (this.closed) return null;
    this.position += result.bytesRead;
    // The engine reads until `want` bytes or the end of the file.
    this.remaining = result.bytesRead < want ? 0 : this.remaining - result.bytesRead;
    if (this.remaining === 0 && this.next_ !== undefined) {
      // Made before this one reached the end: it read nothing, and the engine takes no other call
      // while it is in flight.
      await this.next_.result.catch(ignore);
      this.next_ = undefined;
    }
    return result;
  }

  reuseBuffers(): void {
    this.reuse = true;
  }

  /** Each chunk is a new buffer until reuseBuffers() (see buffer()). */
  freshChunks(): boolean {
    return !this.reuse || !this.seekable;
  }

  async next(): Promise<Uint8Array | null> {
    if (this.closed || this.fd === undefined || this.remaining <= 0) return this.end();
    const want = Math.min(MAX_UPDATE, this.remaining);
    const buffer = this.buffer();
    let filled = 0;
    // Regular files return whole reads; pipes and special files may not, and the turn of the two
    // buffers relies on one chunk per Coalescer call, so a chunk is filled up to `want` or EOF.
    let idle = 0;
    while (filled < want) {
      const pending = read(this.fd, buffer, filled, want - filled, this.seekable ? this.position : null);
      this.reading = pending.catch(ignore);
      let n: number;
      try {
        n = await pending;
      } catch (err) {
        this.reading = undefined;
        if (this.closed) return null;
        // A character device opened non-blocking (a terminal, a serial line) has nothing yet: poll
        // from a timer instead of parking a threadpool thread in read() until it has.
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        if (filled > 0) break;
        idle = Math.min(50, idle * 2 || 1);
        await new Promise((resolve) => setTimeout(resolve, idle));
        if (this.closed) return null;
        continue;
      }
      this.reading = undefined;
      if (this.closed) return null;
      if (n === 0) {
        this.remaining = 0;
        break;
      }
      filled += n;
      this.position += n;
      this.remaining -= n;
    }
    if (filled === 0) return this.end();
    return buffer.subarray(0, filled);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.spares[0] = this.spares[1] = undefined;
    const fd = this.fd;
    this.fd = undefined;
    // Never while a read is in flight: the number could be reused by another open meanwhile.
    if (fd !== undefined) void (this.reading ?? Promise.resolve()).then(() => fs.close(fd, ignore));
    this.onClose();
  }

  private end(): null {
    this.close();
    return null;
  }

  private buffer(): Buffer {
    // Only a regular file fills every chunk (the turn of two buffers relies on it); a device may
    // return less.
    if (!this.reuse || !this.seekable) return Buffer.allocUnsafeSlow(MAX_UPDATE);
    this.turn ^= 1;
    return (this.spares[this.turn] ??= Buffer.allocUnsafeSlow(MAX_UPDATE));
  }
}

/**
 * Reads a pipe or a socket through libuv's event loop (epoll/kqueue), never on the threadpool: a
 * producer that writes slowly or not at all holds no thread, and close() ends everything at once.
 * The socket owns the descriptor and closes it.
 */
export class PipeReader implements ChunkReader {
  private readonly socket: net.Socket;
  private it: AsyncIterator<unknown> | undefined;
  private closed = false;

  constructor(fd: number, private remaining: number) {
    // As Node makes process.stdin for a pipe: read-only, started by the first read.
    this.socket = new net.Socket({ fd, readable: true, writable: false });
    // An error before the first next() must not crash the process; the iterator still sees it.
    this.socket.on('error', ignore);
  }

  async next(): Promise<Uint8Array | null> {
    if (this.closed || this.remaining <= 0) return this.end();
    this.it ??= this.socket[Symbol.asyncIterator]();
    const r = await this.it.next();
    if (this.closed) return null;
    if (r.done) return this.end();
    let chunk = r.value as Buffer;
    if (chunk.length > this.remaining) chunk = chunk.subarray(0, this.remaining);
    this.remaining -= chunk.length;
    return chunk;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  private end(): null {
    this.close();
    return null;
  }
}

/**
 * The reader for an open descriptor, by what it is: a regular file gets an FdReader the native engine
 * may read itself; a pipe or socket a PipeReader; anything else (character devices, read
 * non-blocking with polling; a directory fails on its first read) an FdReader that reads in order.
 * Closes the descriptor when that fails.
 */
export async function fileReaderFor(fd: number, start: number, end: number): Promise<FdReader | PipeReader> {
  let stats: fs.Stats;
  try {
    stats = await fstat(fd);
  } catch (err) {
    fs.close(fd, ignore);
    throw err;
  }
  const seekable = stats.isFile();
  if (!seekable && start > 0) {
    fs.close(fd, ignore);
    throw new ErrOptionRange('start', '0 for a file that does not seek (a pipe or device)', start);
  }
  if (stats.isFIFO() || stats.isSocket()) {
    try {
      return new PipeReader(fd, end - start + 1);
    } catch (err) {
      fs.close(fd, ignore);
      throw err;
    }
  }
  return new FdReader(fd, start, end, seekable, ignore);
}

/** The reader of Layer.fromFile(): opens the file at the first next(). */
export class FileReader implements ChunkReader {
  private inner: FdReader | PipeReader | undefined;
  private opening: Promise<FdReader | PipeReader | null> | undefined;
  private reuse = false;
  private closed = false;

  constructor(private readonly source: FileSource) {}

  reuseBuffers(): void {
    this.reuse = true;
    if (this.inner instanceof FdReader) this.inner.reuseBuffers();
  }

  async next(): Promise<Uint8Array | null> {
    const inner = await this.opened();
    return inner ? inner.next() : null;
  }

  freshChunks(): boolean {
    return this.inner instanceof FdReader && this.inner.freshChunks();
  }

  // Only a regular file is read by the engine itself: a native read of a pipe or a device waits on
  // its producer inside a threadpool thread, and three of them froze every native layer.
  async fileAccess(): Promise<FileAccess | undefined> {
    const inner = await this.opened();
    return inner instanceof FdReader && inner.regular ? inner : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inner?.close();
  }

  private opened(): Promise<FdReader | PipeReader | null> | FdReader | PipeReader {
    return this.inner ?? (this.opening ??= this.open());
  }

  private async open(): Promise<FdReader | PipeReader | null> {
    if (this.closed) return null;
    const inner = await fileReaderFor(await openFile(this.source.path), this.source.start, this.source.end);
    if (this.reuse && inner instanceof FdReader) inner.reuseBuffers();
    this.inner = inner;
    if (this.closed) inner.close();
    return inner;
  }
}
