// Output files that never destroy data. A regular file (new or existing) is written to a temporary
// file beside it (same directory, O_EXCL, a unique name) that is renamed over it only once complete;
// on failure or interrupt only that temporary file is removed. Special files (devices, FIFOs,
// sockets, standard output) are written in place and never removed. An output that is the input,
// or lies inside the input directory, is refused before anything is opened.
import * as fs from 'node:fs';
import { access, open, readlink, rename, stat, lstat, realpath, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { ErrCliOutput, ErrCliUsage, reason } from './errors.js';
import { trackTemporary, untrackTemporary } from './interrupt.js';
import { drainSink, stdoutSink } from './stdio.js';

/** Identity of a file or directory: equal identities are the same object whatever the path. */
export interface Identity {
  dev: number;
  ino: number;
}

/** What an output must not clobber: the input file, or any file inside the input directory. */
export interface Protected {
  file?: Identity | undefined;
  directory?: Identity | undefined;
  /** Named in messages. */
  label: string;
}

export interface Output {
  /** Where the bytes go; errors of the destination surface through it. */
  readonly stream: Writable;
  /** For messages: the path, or 'standard output'. */
  readonly name: string;
  readonly isStdout: boolean;
  /**
   * Regular-file outputs only: the temporary file being written. A writer that goes back to patch
   * what it wrote (an archive's entry headers) may pwrite at explicit positions on `fd` (the stream
   * writes at the file position, which positional writes leave alone); commit() renames it.
   */
  readonly file?: { readonly fd: number; readonly path: string };
  /** Makes the output final: flushes it and renames the temporary file over the target. */
  commit(): Promise<void>;
  /** Abandons the output: removes the temporary file (never the target). Safe to call twice. */
  discard(): Promise<void>;
}

const same = (a: Identity | undefined, b: Identity): boolean => a !== undefined && a.dev === b.dev && a.ino === b.ino;

/** Paths that name this process's standard output. */
export function isStdoutAlias(target: string): boolean {
  return target === '-' || target === '/dev/stdout' || target === '/dev/fd/1' ||
    target === '/proc/self/fd/1' || target === `/proc/${process.pid}/fd/1`;
}

/**
 * Whether `target` is the file standard output already is (`-o out.tar > out.tar`, a FIFO named and
 * redirected to), by device and inode as the input guards compare. A character device is never
 * counted (`-o /dev/null >/dev/null` mixes nothing anyone reads); neither is a path that cannot be
 * stat'ed (opening the output reports it).
 */
async function isStdoutFile(target: string): Promise<boolean> {
  let out: Stats;
  let st: Stats;
  try {
    out = fs.fstatSync(1);
    st = await stat(target);
  } catch {
    return false;
  }
  return !out.isCharacterDevice() && same(out, st);
}

/**
 * The one test of "the output `target` and another writer of standard output (--json) would share
 * it": a name of standard output (isStdoutAlias, which openOutput writes to stdout), or the file
 * standard output is redirected to (isStdoutFile). A usage error naming `option`, `target` and
 * `what` is written there; nothing else happens. `layer -o` and `image --output` call it with --json.
 */
export async function refuseStdoutTwice(option: string, target: string, what: string, command: string): Promise<void> {
  if (isStdoutAlias(target)) {
    throw new ErrCliUsage(`--json and ${option} ${target} both want standard output: write ${what} to a file`, command);
  }
  if (await isStdoutFile(target)) {
    throw new ErrCliUsage(`--json and ${option} ${target} both want standard output (it is the file standard output goes to): write ${what} to another file`, command);
  }
}

/** /dev/stdin, /dev/stderr, /dev/fd/N, /proc/(self|thread-self|PID)[/task/TID]/fd/N, as an absolute path. */
const DESCRIPTOR = /^\/(?:dev\/(?:std(?:in|out|err)|fd\/[0-9]+)|proc\/(?:self|thread-self|[0-9]+)(?:\/task\/[0-9]+)?\/fd\/[0-9]+)$/;

/** Paths spelled as a descriptor of a process (standard error, /dev/fd/N...); the stdout names too. */
export function isDescriptorAlias(target: string): boolean {
  return DESCRIPTOR.test(resolve(target));
}

/**
 * Refuses an output path that names a process's descriptor, spelled so or reached through symbolic
 * links (a link to /dev/stderr, which links to /proc/self/fd/2). Such a path is a magic link to
 * whatever the descriptor holds: followed to a regular file (the log that 2>> appends to), that file
 * would be replaced by the rename and its content lost. Standard output has its own names (handled
 * before this); any other descriptor is a usage error. Each hop's directory is resolved first, so
 * /dev/fd/2 is caught as /proc/PID/fd/2; the walk stops at the first name that is not a link.
 */
async function refuseDescriptor(target: string): Promise<void> {
  let hop = resolve(target);
  for (let links = 0; links <= 40; links++) {
    let full: string;
    try {
      full = join(await realpath(dirname(hop)), basename(hop));
    } catch {
      return; // A missing directory: opening the output reports it.
    }
    if (DESCRIPTOR.test(full)) {
      const via = full === resolve(target) ? '' : ` (it leads to ${full})`;
      throw new ErrCliUsage(`cannot write ${target}${via}: it names a descriptor of a process, not a file (standard output is -)`);
    }
    let next: string;
    try {
      next = await readlink(full);
    } catch {
      return; // Not a symbolic link (or missing): the end of the chain.
    }
    hop = resolve(dirname(full), next);
  }
}

async function statOrUndefined(path: string, follow: boolean): Promise<Stats | undefined> {
  try {
    return await (follow ? stat(path) : lstat(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ErrCliOutput(`cannot use ${path} as output: ${reason(err)}`, err);
  }
}

/** True when the (resolved) directory `dir` is `ancestor` or below it, by identity (bind mounts too). */
async function within(dir: string, ancestor: Identity): Promise<boolean> {
  for (let p = dir; ; p = dirname(p)) {
    const st = await statOrUndefined(p, true);
    if (st && same(ancestor, st)) return true;
    if (dirname(p) === p) return false;
  }
}

function refuse(target: string, guard: Protected, what: string): never {
  throw new ErrCliOutput(`refusing to write ${target}: ${what} ${guard.label}`);
}

async function check(target: string, resolvedDir: string, st: Stats | undefined, guards: readonly Protected[]): Promise<void> {
  for (const guard of guards) {
    if (st && same(guard.file, st)) refuse(target, guard, 'it is the input');
    // Only a regular file would be archived with its (partial) content: `fastlayer / -o /dev/null`
    // is fine.
    const regular = st === undefined || st.isFile();
    if (regular && guard.directory && await within(resolvedDir, guard.directory)) {
      refuse(target, guard, 'it would be inside the input directory');
    }
  }
}

/**
 * For outputs that are directories (an OCI layout): refused when the directory is an input file, or
 * is (or lies inside) an input directory, whose layer would then hold part of the output.
 */
export async function refuseDirectoryInside(target: string, guards: readonly Protected[]): Promise<void> {
  let dir = resolve(target);
  // The nearest existing ancestor stands for a directory that does not exist yet.
  while ((await statOrUndefined(dir, true)) === undefined && dirname(dir) !== dir) dir = dirname(dir);
  const st = await statOrUndefined(dir, true);
  for (const guard of guards) {
    if (st && same(guard.file, st)) refuse(target, guard, 'it is the input');
    if (guard.directory && await within(dir, guard.directory)) refuse(target, guard, 'it would be inside the input directory');
  }
}

/**
 * Opens `target` for writing ('-' is standard output). `signal` stops a wait for the reader of a
 * FIFO. Throws ErrCliOutput for targets that cannot or must not be written.
 */
export async function openOutput(target: string, guard: Protected | readonly Protected[], signal: AbortSignal): Promise<Output> {
  const guards: readonly Protected[] = Array.isArray(guard) ? guard : [guard as Protected];
  if (target === '') throw new ErrCliOutput('the output path is empty');
  if (isStdoutAlias(target)) return openStdout(guards);
  await refuseDescriptor(target);
  const path = resolve(target);
  const st = await statOrUndefined(path, true);
  if (st === undefined) {
    const link = await statOrUndefined(path, false);
    if (link?.isSymbolicLink()) throw new ErrCliOutput(`cannot write ${target}: it is a symbolic link to a missing file`);
  }
  if (st?.isDirectory()) throw new ErrCliOutput(`cannot write ${target}: it is a directory`);
  // The temporary file goes beside the file the path finally names, so a symlink keeps pointing at it.
  let finalPath: string;
  try {
    finalPath = st ? await realpath(path) : join(await realpath(dirname(path)), basename(path));
  } catch (err) {
    throw new ErrCliOutput(`cannot write ${target}: ${reason(err)}`, err);
  }
  await check(target, dirname(finalPath), st, guards);
  if (st === undefined || st.isFile()) return openReplacement(target, finalPath, st);
  if (st.isFIFO()) return openFifo(target, st, signal);
  if (st.isSocket()) return openSocket(target);
  return openDevice(target, st);
}

async function openStdout(guards: readonly Protected[]): Promise<Output> {
  let st: Stats;
  try {
    st = fs.fstatSync(1);
  } catch (err) {
    throw new ErrCliOutput(`cannot write to standard output: ${reason(err)}`, err);
  }
  if (process.stdout.isTTY) throw new ErrCliOutput('refusing to write binary data to a terminal: redirect standard output or use -o FILE');
  for (const guard of guards) await checkStdout(st, guard);
  const stream = stdoutSink();
  // commit() ends the sink (never stdout itself) and waits until stdout has taken its last byte: the
  // bin exits right after, and bytes still queued in the sink would be lost.
  return { stream, name: 'standard output', isStdout: true, commit: () => drainSink(stream), discard: async () => {} };
}

async function checkStdout(st: Stats, guard: Protected): Promise<void> {
  if (same(guard.file, st)) refuse('to standard output', guard, 'it is the input');
  if (st.isFile() && guard.directory) {
    // Where a redirection points, on Linux: a file inside the input directory would be archived.
    let where: string | undefined;
    try {
      where = fs.readlinkSync('/proc/self/fd/1');
    } catch {
      where = undefined;
    }
    if (where?.startsWith('/') && await within(dirname(where), guard.directory)) {
      refuse('to standard output', guard, 'it is redirected into the input directory');
    }
  }
}

function temporaryName(finalPath: string): string {
  // Short enough for NAME_MAX whatever the target's name; dot-prefixed so listings skip it.
  const base = basename(finalPath).slice(0, 80);
  return join(dirname(finalPath), `.${base}.${process.pid}-${randomBytes(6).toString('hex')}.fastlayer-tmp`);
}

async function openReplacement(target: string, finalPath: string, existing: Stats | undefined): Promise<Output> {
  if (existing) {
    // A rename would replace a file the user may not write (a read-only 0444 file): refuse as
    // writing in place would.
    try {
      await access(finalPath, fs.constants.W_OK);
    } catch (err) {
      throw new ErrCliOutput(`cannot write ${target}: ${reason(err)}`, err);
    }
  }
  const temp = temporaryName(finalPath);
  let handle;
  try {
    handle = await open(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o666);
  } catch (err) {
    throw new ErrCliOutput(`cannot create a temporary file beside ${target}: ${reason(err)}`, err);
  }
  trackTemporary(temp);
  const fd = handle.fd;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  try {
    if (existing) {
      // The replaced file keeps its permissions (a private 0600 file stays private) and, when we can,
      // its owner.
      await handle.chmod(existing.mode & 0o7777);
      if (process.getuid?.() === 0) await handle.chown(existing.uid, existing.gid);
    }
  } catch (err) {
    await close().catch(() => {});
    await unlink(temp).catch(() => {});
    untrackTemporary(temp);
    throw new ErrCliOutput(`cannot prepare the temporary file for ${target}: ${reason(err)}`, err);
  }
  // The FileHandle owns the descriptor: destroy() of a WriteStream closes its fd even with
  // autoClose false, and a second close of a number the OS may have reused by then could close
  // another file. The stream's close is therefore a no-op.
  const stream = fs.createWriteStream('', {
    fd,
    autoClose: false,
    highWaterMark: 1024 * 1024,
    fs: { open: fs.open, write: fs.write, writev: fs.writev, close: (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => done(null) },
  });
  let settled = false;
  return {
    stream,
    name: target,
    isStdout: false,
    file: { fd, path: temp },
    async commit() {
      if (!stream.writableFinished) {
        if (!stream.writableEnded) stream.end();
        await once(stream, 'finish');
      }
      try {
        await handle.sync();
        await close();
        await rename(temp, finalPath);
      } catch (err) {
        throw new ErrCliOutput(`cannot write ${target}: ${reason(err)}`, err);
      }
      settled = true;
      untrackTemporary(temp);
      await syncDirectory(dirname(finalPath));
    },
    async discard() {
      if (settled) return;
      settled = true;
      stream.destroy();
      await close().catch(() => {});
      await unlink(temp).catch(() => {});
      untrackTemporary(temp);
    },
  };
}

/** Best effort: makes the rename itself durable. Some filesystems refuse fsync on directories. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const h = await open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Durability of the directory entry is a bonus; the data itself was synced.
  }
}

/** A stream that owns its descriptor: committed by ending it, discarded by destroying it. */
function direct(stream: Writable, name: string): Output {
  return {
    stream,
    name,
    isStdout: false,
    async commit() {
      if (!stream.writableFinished) {
        if (!stream.writableEnded) stream.end();
        await once(stream, 'finish');
      }
      stream.destroy();
    },
    async discard() {
      stream.destroy();
    },
  };
}

function verify(target: string, opened: Stats, expected: Stats): void {
  if (opened.dev !== expected.dev || opened.ino !== expected.ino) {
    throw new ErrCliOutput(`cannot write ${target}: it was replaced while being opened`);
  }
}

/**
 * A FIFO is opened without blocking a libuv thread (a blocked open would also keep the process from
 * exiting on Ctrl-C): non-blocking opens fail with ENXIO until a reader comes, so poll for one.
 */
async function openFifo(target: string, expected: Stats, signal: AbortSignal): Promise<Output> {
  let fd: number | undefined;
  while (fd === undefined) {
    signal.throwIfAborted();
    try {
      fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw new ErrCliOutput(`cannot write ${target}: ${reason(err)}`, err);
      await sleep(50, undefined, { signal }).catch(() => {});
    }
  }
  try {
    verify(target, fs.fstatSync(fd), expected);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return direct(new net.Socket({ fd, readable: false, writable: true }), target);
}

async function openSocket(target: string): Promise<Output> {
  const socket = net.createConnection({ path: target });
  try {
    await once(socket, 'connect');
  } catch (err) {
    socket.destroy();
    throw new ErrCliOutput(`cannot write ${target}: ${reason(err)}`, err);
  }
  return direct(socket, target);
}

/** Character and block devices: written where they are, never truncated, never removed. */
async function openDevice(target: string, expected: Stats): Promise<Output> {
  let fd: number;
  try {
    fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
  } catch (err) {
    throw new ErrCliOutput(`cannot write ${target}: ${reason(err)}`, err);
  }
  try {
    verify(target, fs.fstatSync(fd), expected);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return direct(fs.createWriteStream('', { fd, autoClose: true }), target);
}
