// Filesystem access that never leaves the archived tree. Every directory is opened with
// O_DIRECTORY|O_NOFOLLOW through the descriptor of its already opened parent, and listed and used
// through that descriptor (Linux: /proc/self/fd/N, a magic link to exactly the opened directory;
// Node has no openat). Files are opened with O_NOFOLLOW|O_NONBLOCK the same way and described by
// fstat of the opened descriptor, so a name swapped for a symlink, a FIFO or another file between
// listing and opening is either refused by the kernel or seen, never followed.
import * as fs from 'node:fs';
import type { Stats } from 'node:fs';
import { ErrTarSource } from '../core/errors.js';
import { ErrTarSourceChanged } from './errors.js';

const { O_RDONLY, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

let procFd: boolean | undefined;
/** Whether paths under /proc/self/fd/N reach the opened directory itself (Linux). */
function viaProc(): boolean {
  if (procFd === undefined) {
    try {
      procFd = process.platform === 'linux' && fs.statSync('/proc/self/fd').isDirectory();
    } catch {
      procFd = false;
    }
  }
  return procFd;
}

/** Tests run the fallback on Linux too. Not part of the public API. */
export function setProcFdForTests(value: boolean | undefined): void {
  procFd = value;
}

export function call<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

// fstat of a descriptor just opened and close of a read-only one run on the main thread: neither
// touches the disk on a local filesystem (the inode is in memory while open), and a threadpool
// hand-off costs more than either call; on a tree of small files they were 2 of 5 hand-offs.
export function fstatNow(fd: number): Stats {
  return fs.fstatSync(fd);
}

export function closeNow(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // A failed close of a read-only descriptor loses nothing.
  }
}

/** An opened directory of the tree, shared by its listing and the entries prepared from it. */
export class DirRef {
  private refs = 1;
  readonly base: Buffer;
  constructor(
    readonly fd: number,
    readonly display: Buffer,
    readonly st: Stats,
    readonly isRoot = false,
    /** Without /proc: checked again after each open through this directory's path. */
    readonly parent: DirRef | undefined = undefined,
  ) {
    this.base = viaProc() ? Buffer.from(`/proc/self/fd/${fd}/`) : Buffer.concat([display, Buffer.from('/')]);
  }

  /** Path of a child that resolves through this descriptor (no symlink in it but the magic link). */
  child(name: Buffer): Buffer {
    return Buffer.concat([this.base, name]);
  }

  /** Path to list this very directory. */
  self(): Buffer {
    return viaProc() ? this.base : this.display;
  }

  acquire(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) closeNow(this.fd);
  }
}

export function join(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 0) return name;
  return dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, Buffer.from('/'), name]);
}

/** fs errors that mean "the entry is not what it was when listed". */
function changedBy(err: unknown): string | undefined {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'was removed';
    case 'ELOOP':
    case 'EMLINK': // FreeBSD's answer to O_NOFOLLOW on a symlink
      return 'was replaced by a symlink';
    case 'ENOTDIR':
      return 'is no longer a directory (replaced by a symlink or a file)';
    default:
      return undefined;
  }
}

export function wrap(display: Buffer, err: unknown): Error {
  const code = (err as { code?: unknown })?.code;
  if (err instanceof Error && typeof code === 'string' && code.startsWith('ERR_')) return err;
  const what = changedBy(err);
  if (what) return new ErrTarSourceChanged(display.toString(), what, err);
  return new ErrTarSource(`${display.toString()}: ${(err as Error).message}`, err);
}

const sameFile = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino;

/**
 * Without /proc, paths go through the names of every directory above: after each open or listing,
 * each of them must still be the directory that was opened (a swap that is undone before this
 * check, in the few microseconds between, is not seen: the fallback is a best effort).
 */
async function checkAncestors(dir: DirRef | undefined): Promise<void> {
  if (viaProc()) return;
  for (let d = dir; d; d = d.parent) {
    const now = await call<Stats>((cb) => (d!.isRoot ? fs.stat : fs.lstat)(d!.display, cb));
    if (!sameFile(now, d.st)) throw new ErrTarSourceChanged(d.display.toString(), 'was replaced');
  }
}

/** Opens the root (following a symlink there: the caller named it) and checks it is a directory. */
export async function openRoot(path: Buffer): Promise<DirRef> {
  const fd = await call<number>((cb) => fs.open(path, O_RDONLY | O_DIRECTORY, cb));
  try {
    return new DirRef(fd, path, fstatNow(fd), true);
  } catch (err) {
    closeNow(fd);
    throw err;
  }
}

/** Opens a subdirectory listed in `parent` without following a symlink put in its place. */
export async function openDir(parent: DirRef, name: Buffer, display: Buffer): Promise<DirRef> {
  const path = parent.child(name);
  // Without /proc the path goes through the parent's name again: compare identities too.
  const before = viaProc() ? undefined : await call<Stats>((cb) => fs.lstat(path, cb));
  const fd = await call<number>((cb) => fs.open(path, DIR_FLAGS, cb));
  try {
    const st = fstatNow(fd);
    if (before && !sameFile(before, st)) throw new ErrTarSourceChanged(display.toString(), 'was replaced');
    await checkAncestors(parent);
    return new DirRef(fd, display, st, false, viaProc() ? undefined : parent);
  } catch (err) {
    closeNow(fd);
    throw err;
  }
}

export type Dtype = 'dir' | 'file' | 'symlink' | 'other';

export interface Listed {
  name: Buffer;
  /** From the listing (d_type), or from lstat when the filesystem does not report it. */
  dtype: Dtype;
}

function dtypeOf(d: { isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }): Dtype | undefined {
  if (d.isDirectory()) return 'dir';
  if (d.isFile()) return 'file';
  if (d.isSymbolicLink()) return 'symlink';
  const any = d as unknown as { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean };
  if (any.isFIFO() || any.isSocket() || any.isCharacterDevice() || any.isBlockDevice()) return 'other';
  return undefined;
}

/** The entries of an opened directory, sorted by name bytes. */
export async function list(dir: DirRef): Promise<Listed[]> {
  const dirents = await call<fs.Dirent[]>((cb) =>
    fs.readdir(dir.self(), { encoding: 'buffer', withFileTypes: true }, cb as never));
  // Listed by name without /proc: the names must still lead to the directory that was opened.
  await checkAncestors(dir);
  const out: Listed[] = [];
  for (const d of dirents) {
    const name = d.name as unknown as Buffer;
    let dtype = dtypeOf(d);
    if (dtype === undefined) dtype = dtypeOf(await call<Stats>((cb) => fs.lstat(dir.child(name), cb)))!;
    out.push({ name, dtype });
  }
  out.sort((a, b) => Buffer.compare(a.name, b.name));
  return out;
}

export type Opened =
  | { kind: 'file'; st: Stats; fd: number }
  | { kind: 'symlink'; st: Stats; linkname: Buffer }
  | { kind: 'special'; st: Stats };

/**
 * Opens a non-directory entry of `parent`. Regular files come back open, described by fstat of the
 * descriptor; symlinks with their target; FIFOs, devices and sockets with lstat only (never opened).
 */
export async function openEntry(parent: DirRef, name: Buffer, dtype: Dtype, display: Buffer): Promise<Opened> {
  const path = parent.child(name);
  if (dtype === 'file') {
    const before = viaProc() ? undefined : await call<Stats>((cb) => fs.lstat(path, cb));
    const fd = await call<number>((cb) => fs.open(path, FILE_FLAGS, cb));
    try {
      const st = fstatNow(fd);
      if (!st.isFile()) throw new ErrTarSourceChanged(display.toString(), 'is no longer a regular file');
      if (before && !sameFile(before, st)) throw new ErrTarSourceChanged(display.toString(), 'was replaced');
      await checkAncestors(parent);
      return { kind: 'file', st, fd };
    } catch (err) {
      closeNow(fd);
      throw err;
    }
  }
  const st = await call<Stats>((cb) => fs.lstat(path, cb));
  if (st.isDirectory()) throw new ErrTarSourceChanged(display.toString(), 'became a directory');
  if (st.isFile()) return openEntry(parent, name, 'file', display);
  if (st.isSymbolicLink()) {
    const linkname = await call<Buffer>((cb) => fs.readlink(path, { encoding: 'buffer' }, cb as never));
    await checkAncestors(parent);
    return { kind: 'symlink', st, linkname };
  }
  await checkAncestors(parent);
  return { kind: 'special', st };
}

/**
 * Reads exactly `want` bytes at `position` into `buf`. With `atEnd`, asks for one byte more (`buf`
 * must have room for it) to notice a file that grew: the header already promised the size.
 */
export async function readExactly(fd: number, buf: Buffer, want: number, position: number, display: Buffer, atEnd: boolean): Promise<void> {
  const ask = atEnd ? want + 1 : want;
  let off = 0;
  if (atEnd && want === 0 && (await call<number>((cb) => fs.read(fd, buf, 0, 1, position, cb))) > 0) {
    throw new ErrTarSourceChanged(display.toString(), 'grew');
  }
  while (off < want) {
    const n = await call<number>((cb) => fs.read(fd, buf, off, ask - off, position + off, cb));
    if (n === 0) throw new ErrTarSourceChanged(display.toString(), 'shrank');
    off += n;
  }
  // Reaching `want` with a short read is the end of a regular file; one byte past it is growth.
  if (off > want) throw new ErrTarSourceChanged(display.toString(), 'grew');
}
