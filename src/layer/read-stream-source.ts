// `new Layer(fs.createReadStream(file))` is how most callers hand over a file, and the slowest part of
// that pipeline is the ReadStream itself. An untouched, plain ReadStream of a path is therefore read
// like Layer.fromFile(): through a descriptor of our own, checked to be the same file. The stream
// stays open and unread as the caller's handle on the layer's source: destroying it (directly or
// through its `signal` option) still fails the layer, and the layer closes it when done.
import * as fs from 'node:fs';
import { FdReader, fstat, openFile, type FileAccess, type FileRead } from './file-source.js';
import { IterableReader, type ChunkReader } from './readers.js';

interface ReadStreamFields {
  path: string | Buffer;
  fd: number | null;
  flags: unknown;
  start: unknown;
  end: unknown;
}

function ignore(): void {}

// Node keeps the `fs` option under a private symbol: a stream reading through another implementation
// (memfs, a test double) must be read through it, so only the real module's functions qualify.
function usesRealFs(stream: fs.ReadStream): boolean {
  const key = Object.getOwnPropertySymbols(stream).find((k) => k.description === 'kFs');
  const impl = key === undefined ? undefined : (stream as unknown as Record<symbol, Partial<typeof fs>>)[key];
  return impl !== undefined && impl.open === fs.open && impl.read === fs.read && impl.close === fs.close;
}

/** True for a ReadStream whose bytes can be read from its path with the same result. */
export function isAdoptableReadStream(source: unknown): source is fs.ReadStream {
  if (!(source instanceof fs.ReadStream) || Object.getPrototypeOf(source) !== fs.ReadStream.prototype) return false;
  const s = source as fs.ReadStream & ReadStreamFields;
  const start = s.start;
  // Without `start`, a stream given an `fd` reads from wherever that descriptor stands.
  if (start === undefined ? s.fd !== null : !Number.isSafeInteger(start)) return false;
  return (typeof s.path === 'string' || Buffer.isBuffer(s.path)) && s.flags === 'r' &&
    (s.end === Infinity || Number.isSafeInteger(s.end)) && !s.destroyed && s.readableFlowing === null &&
    s.readableLength === 0 && s.bytesRead === 0 && s.readableEncoding === null && !s.readableObjectMode &&
    s.listenerCount('data') === 0 && s.listenerCount('readable') === 0 && usesRealFs(s);
}

/** Resolves true once the stream has its descriptor, false if it closes (or failed) first. */
function whenOpen(stream: fs.ReadStream): Promise<boolean> {
  if (stream.destroyed) return Promise.resolve(false);
  if (typeof (stream as fs.ReadStream & ReadStreamFields).fd === 'number') return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (ok: boolean) => {
      stream.off('ready', onReady);
      stream.off('close', onClose);
      resolve(ok);
    };
    const onReady = () => settle(true);
    const onClose = () => settle(false);
    stream.on('ready', onReady);
    stream.on('close', onClose);
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

export class ReadStreamReader implements ChunkReader, FileAccess {
  private delegate: ChunkReader | undefined;
  private choosing: Promise<ChunkReader> | undefined;
  private reuse = false;
  private closed = false;
  /** Set when the stream was destroyed by someone else while the layer reads its file. */
  private failure: unknown;

  constructor(private readonly stream: fs.ReadStream) {
    // Attached at once: an open error of a stream nobody reads yet must not crash the process. The
    // error still reaches the layer, through the fallback's iterator.
    stream.on('error', ignore);
  }

  reuseBuffers(): void {
    this.reuse = true;
    this.delegate?.reuseBuffers?.();
  }

  async next(): Promise<Uint8Array | null> {
    const chunk = await (await this.chosen()).next();
    this.checkFailure();
    return chunk;
  }

  async fileAccess(): Promise<FileAccess | undefined> {
    return (await this.chosen()) instanceof FdReader ? this : undefined;
  }

  /** Only when the file is read through a descriptor of our own (the stream itself is the caller's). */
  freshChunks(): boolean {
    return this.delegate instanceof FdReader && this.delegate.freshChunks();
  }

  async readVia<T extends { bytesRead: number }>(read: FileRead<T>, length?: number, ahead?: boolean): Promise<T | null> {
    const result = await (this.delegate as FdReader).readVia(read, length, ahead);
    this.checkFailure();
    return result;
  }

  private checkFailure(): void {
    if (this.failure === undefined) return;
    this.close();
    throw this.failure;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.delegate) this.delegate.close();
    else this.stream.destroy();
  }

  private chosen(): Promise<ChunkReader> | ChunkReader {
    return this.delegate ?? (this.choosing ??= this.choose());
  }

  private async choose(): Promise<ChunkReader> {
    const s = this.stream as fs.ReadStream & ReadStreamFields;
    const reader: ChunkReader = (await this.adopt(s)) ?? new IterableReader(s, s);
    this.delegate = reader;
    if (this.closed) reader.close();
    else if (this.reuse) reader.reuseBuffers?.();
    return reader;
  }

  /** A reader of our own descriptor of the stream's file, or undefined to read the stream itself. */
  private async adopt(s: fs.ReadStream & ReadStreamFields): Promise<FdReader | undefined> {
    if (!(await whenOpen(s)) || this.closed) return undefined;
    // Only regular files: a FIFO's reads wait on its producer (never in a native call, which would
    // hold a threadpool thread), and opening its path again could wait for another writer.
    try {
      if (!(await fstat(s.fd!)).isFile()) return undefined;
    } catch {
      return undefined;
    }
    if (this.closed) return undefined;
    let fd: number;
    try {
      fd = await openFile(s.path);
    } catch {
      return undefined; // Unlinked or replaced since the stream opened it: its own descriptor still reads.
    }
    let same = false;
    try {
      const [ours, theirs] = await Promise.all([fstat(fd), fstat(s.fd!)]);
      same = ours.dev === theirs.dev && ours.ino === theirs.ino && ours.isFile();
    } catch {
      // The stream closed its descriptor meanwhile: not adopted.
    }
    if (!same || this.closed || s.destroyed) {
      fs.close(fd, ignore);
      return undefined;
    }
    let released = false;
    s.once('close', () => {
      if (!released) this.failure = s.errored ?? prematureClose();
    });
    const start = (s.start as number | undefined) ?? 0;
    // A regular file (checked above), so it seeks.
    return new FdReader(fd, start, s.end as number, true, () => {
      released = true;
      s.destroy();
    });
  }
}
