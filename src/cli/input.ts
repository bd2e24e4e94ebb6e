// Inputs of `fastlayer layer`: a directory (archived as a tar), a file, a FIFO, a device, or standard
// input. Each is opened first and identified from the open descriptor (fstat), so the identity the
// output is checked against is the one actually read. Pipes are read through non-blocking handles:
// a read waiting on a slow producer must not hold a libuv thread (it would also keep Ctrl-C from
// ending the process).
import * as fs from 'node:fs';
import { readdir, lstat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { tarDirectory, type TarOptions } from '../tar/directory.js';
import { ErrCliInput, reason } from './errors.js';
import type { Identity, Protected } from './output.js';

export type InputKind = 'directory' | 'file' | 'pipe' | 'device' | 'stdin';

export interface Input {
  /** As the user wrote it ('-' for standard input). */
  readonly label: string;
  readonly kind: InputKind;
  readonly identity: Identity | undefined;
  /** Input bytes when known up front (regular files); directories: see estimateTarSize. */
  readonly total: number | undefined;
  /** The bytes to make a layer of; opened at most once. */
  open(tarOptions: TarOptions): Readable | AsyncIterable<Uint8Array>;
  /** Input bytes handed out so far. */
  bytesRead(): number;
  /** Releases the descriptor if open() was never called, or stops reading. Idempotent. */
  close(): void;
  /** What outputs must not clobber. */
  guard(): Protected;
}

/** Names of standard input: `-` and the /dev and /proc paths of descriptor 0. */
export function isStdinAlias(path: string): boolean {
  return path === '-' || path === '/dev/stdin' || path === '/dev/fd/0' ||
    path === '/proc/self/fd/0' || path === `/proc/${process.pid}/fd/0`;
}

function identity(st: Stats): Identity {
  return { dev: st.dev, ino: st.ino };
}

/** A Readable whose byte count is its own `bytesRead` (fs.ReadStream, net.Socket). */
function streamInput(label: string, kind: InputKind, st: Stats, stream: Readable & { bytesRead: number }): Input {
  return {
    label,
    kind,
    identity: identity(st),
    total: st.isFile() ? st.size : undefined,
    open: () => stream,
    bytesRead: () => stream.bytesRead,
    close: () => stream.destroy(),
    guard: () => ({ file: identity(st), label }),
  };
}

function stdinInput(): Input {
  let st: Stats;
  try {
    st = fs.fstatSync(0);
  } catch (err) {
    throw new ErrCliInput(`cannot read standard input: ${reason(err)}`, err);
  }
  if (st.isDirectory()) throw new ErrCliInput('cannot read standard input: it is a directory');
  const stdin = process.stdin as Readable & { bytesRead?: number };
  return {
    label: 'standard input',
    kind: 'stdin',
    identity: identity(st),
    total: st.isFile() ? st.size : undefined,
    open: () => stdin,
    bytesRead: () => stdin.bytesRead ?? 0,
    close: () => stdin.destroy(),
    guard: () => ({ file: identity(st), label: 'standard input' }),
  };
}

function directoryInput(path: string, st: Stats): Input {
  let count = 0;
  let stream: AsyncGenerator<Buffer> | undefined;
  async function* counted(source: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      count += chunk.length;
      yield chunk;
    }
  }
  return {
    label: path,
    kind: 'directory',
    identity: identity(st),
    total: undefined,
    open(tarOptions) {
      stream = counted(tarDirectory(path, tarOptions));
      return stream;
    },
    bytesRead: () => count,
    close: () => void stream?.return(undefined).catch(() => {}),
    guard: () => ({ directory: identity(st), label: path }),
  };
}

/** Opens `path` ('-': standard input) and tells what it is. Throws ErrCliInput. */
export function openInput(path: string): Input {
  if (path === '') throw new ErrCliInput('the input path is empty');
  if (isStdinAlias(path)) return stdinInput();
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer on this thread; O_NOCTTY: a terminal
    // device must not become our controlling terminal.
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' && fs.statSync(path, { throwIfNoEntry: false })?.isSocket()) {
      throw new ErrCliInput(`cannot read ${path}: it is a socket (pipe it in with - instead)`, err);
    }
    throw new ErrCliInput(`cannot read ${path}: ${reason(err)}`, err);
  }
  const st = fs.fstatSync(fd);
  if (st.isDirectory()) {
    fs.closeSync(fd);
    return directoryInput(path, st);
  }
  if (st.isFIFO()) {
    return streamInput(path, 'pipe', st, new net.Socket({ fd, readable: true, writable: false }));
  }
  if (st.isFile()) {
    return streamInput(path, 'file', st, fs.createReadStream('', { fd, highWaterMark: 1024 * 1024 }));
  }
  // Devices are read in blocking mode (O_NONBLOCK would make a quiet terminal an error): reopen,
  // and check that the path still names what was identified.
  fs.closeSync(fd);
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOCTTY);
  } catch (err) {
    throw new ErrCliInput(`cannot read ${path}: ${reason(err)}`, err);
  }
  const again = fs.fstatSync(fd);
  if (again.dev !== st.dev || again.ino !== st.ino) {
    fs.closeSync(fd);
    throw new ErrCliInput(`cannot read ${path}: it was replaced while being opened`);
  }
  return streamInput(path, 'device', st, fs.createReadStream('', { fd, highWaterMark: 1024 * 1024 }));
}

/**
 * What outputs must not clobber for the input at `path` (an archive file, a layout directory): opened
 * to identify it by device and inode, then closed. Throws ErrCliInput when it cannot be read.
 */
export function inputGuard(path: string): Protected {
  const input = openInput(path);
  try {
    return input.guard();
  } finally {
    input.close();
  }
}

const BLOCK = 512;
const SCAN_BATCH = 32;

/**
 * Roughly the size of the tar of `dir` (a header per entry, contents padded to blocks), for the
 * progress percentage: a quick walk of names and sizes, stopped by `signal`. Undefined when the walk
 * fails (the layer itself then reports the problem).
 */
export async function estimateTarSize(dir: string, signal: AbortSignal): Promise<number | undefined> {
  let total = 2 * BLOCK;
  const pending = [dir];
  try {
    while (pending.length > 0) {
      if (signal.aborted) return undefined;
      const current = pending.pop()!;
      const entries = await readdir(current, { withFileTypes: true });
      total += entries.length * BLOCK;
      const files: string[] = [];
      for (const e of entries) {
        if (e.isDirectory()) pending.push(join(current, e.name));
        else if (e.isFile()) files.push(join(current, e.name));
      }
      // A few stats in flight at once: one at a time leaves the disk and the threadpool idle.
      for (let i = 0; i < files.length; i += SCAN_BATCH) {
        const sizes = await Promise.all(files.slice(i, i + SCAN_BATCH).map(async (f) => (await lstat(f)).size));
        for (const size of sizes) total += Math.ceil(size / BLOCK) * BLOCK;
      }
    }
  } catch {
    return undefined;
  }
  return total;
}
