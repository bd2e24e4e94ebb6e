// A small deterministic tar writer for turning a directory into a layer: ustar headers, PAX records
// only where ustar cannot hold a value, entries sorted by name bytes, owner normalised to root:root
// (uid/gid 0), mtime and permission bits kept. Streams: one file is read at a time in bounded chunks.
import * as fs from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { ErrTarSource } from '../errors.js';

export interface TarOptions {
  /** Called for entries that are neither regular files, directories nor symlinks (they are left out). */
  onSkip?: (path: string, kind: string) => void;
}

const BLOCK = 512;
const READ_SIZE = 1024 * 1024;
/** Files up to this size are emitted as one chunk together with their header and padding. */
const INLINE_FILE = 64 * 1024;
/** Entries prepared ahead of the consumer: bounds memory to about READ_AHEAD * INLINE_FILE. */
const READ_AHEAD = 16;
const OCTAL_11 = 0o77777777777;
const SLASH = Buffer.from('/');

type Type = '0' | '2' | '5' | 'x';

interface Entry {
  name: Buffer;
  type: Type;
  mode: number;
  size: number;
  mtime: number;
  linkname?: Buffer;
}

function isPortable(bytes: Buffer, max: number): boolean {
  if (bytes.length > max) return false;
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

function writeOctal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
  h[offset + width - 1] = 0;
}

/** ASCII stand-in for the ustar field when the real value travels in a PAX record. */
function fallback(bytes: Buffer, max: number): Buffer {
  const out = Buffer.from(bytes.subarray(0, max));
  for (let i = 0; i < out.length; i++) if (out[i]! < 0x20 || out[i]! > 0x7e) out[i] = 0x5f; // '_'
  return out;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  // The length prefix counts its own digits.
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function ustarHeader(e: Entry, name: Buffer, linkname: Buffer): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, 100);
  writeOctal(h, 100, 8, e.mode);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, e.size > OCTAL_11 ? 0 : e.size);
  writeOctal(h, 136, 12, e.mtime < 0 || e.mtime > OCTAL_11 ? 0 : e.mtime);
  h.write(e.type, 156, 'ascii');
  linkname.copy(h, 157, 0, 100);
  h.write('ustar\u000000', 257, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  writeOctal(h, 329, 8, 0);
  writeOctal(h, 337, 8, 0);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Header block(s) of an entry: a PAX extended header first when ustar cannot hold a value. */
export function entryHeader(e: Entry): Buffer {
  const link = e.linkname ?? Buffer.alloc(0);
  const records: Buffer[] = [];
  if (!isPortable(e.name, 100)) records.push(paxRecord('path', e.name));
  if (!isPortable(link, 100)) records.push(paxRecord('linkpath', link));
  if (e.size > OCTAL_11) records.push(paxRecord('size', Buffer.from(String(e.size))));
  if (e.mtime < 0 || e.mtime > OCTAL_11) records.push(paxRecord('mtime', Buffer.from(String(e.mtime))));
  const main = ustarHeader(e, fallback(e.name, 100), fallback(link, 100));
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const paxName = fallback(Buffer.concat([Buffer.from('PaxHeaders/'), e.name]), 100);
  const pax = ustarHeader({ name: paxName, type: 'x', mode: 0o644, size: data.length, mtime: 0 }, paxName, Buffer.alloc(0));
  return Buffer.concat([pax, data, padding(data.length), main]);
}

function join(dir: Buffer, name: Buffer): Buffer {
  if (dir.length === 0) return name;
  return dir[dir.length - 1] === 0x2f ? Buffer.concat([dir, name]) : Buffer.concat([dir, SLASH, name]);
}

// Callback fs wrapped by hand: FileHandle objects cost noticeably more per file, and most of a
// directory tree is small files.
function fsCall<T>(fn: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

async function readExactly(path: Buffer, fd: number, into: Buffer, position: number): Promise<void> {
  for (let off = 0; off < into.length; ) {
    const n = await fsCall<number>((cb) => fs.read(fd, into, off, into.length - off, position + off, cb));
    if (n === 0) throw new ErrTarSource(`${path.toString()}: file shrank while it was being read`);
    off += n;
  }
}

async function withFile<T>(path: Buffer, use: (fd: number) => Promise<T>): Promise<T> {
  const fd = await fsCall<number>((cb) => fs.open(path, 'r', cb));
  try {
    return await use(fd);
  } finally {
    await fsCall<void>((cb) => fs.close(fd, (err) => cb(err, undefined)));
  }
}

async function* bigFile(path: Buffer, size: number): AsyncGenerator<Buffer> {
  const fd = await fsCall<number>((cb) => fs.open(path, 'r', cb));
  try {
    for (let done = 0; done < size; ) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_SIZE, size - done));
      await readExactly(path, fd, chunk, done);
      done += chunk.length;
      yield chunk;
    }
  } finally {
    await fsCall<void>((cb) => fs.close(fd, (err) => cb(err, undefined)));
  }
  yield padding(size);
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'unknown';
}

interface Item {
  rel: Buffer;
  path: Buffer;
}

/** Every path under root in archive order: names sorted by bytes, a directory before its contents. */
async function* listing(root: Buffer, rel: Buffer): AsyncGenerator<Item> {
  const dirents = await readdir(join(root, rel), { encoding: 'buffer', withFileTypes: true });
  const entries = dirents.map((d) => ({ name: d.name as unknown as Buffer, dir: d.isDirectory() }));
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  for (const { name, dir } of entries) {
    const relPath = join(rel, name);
    yield { rel: relPath, path: join(root, relPath) };
    if (dir) yield* listing(root, relPath);
  }
}

/** What one entry contributes: bytes ready to emit, a big file to stream afterwards, or a skip. */
type Prepared =
  | { bytes: Buffer; big?: { path: Buffer; size: number } }
  | { skip: string; path: Buffer };

async function prepare({ rel, path }: Item): Promise<Prepared> {
  const st = await fsCall<Stats>((cb) => fs.lstat(path, cb));
  const mode = st.mode & 0o7777;
  const mtime = Math.floor(st.mtimeMs / 1000);
  if (st.isDirectory()) {
    return { bytes: entryHeader({ name: Buffer.concat([rel, SLASH]), type: '5', mode, size: 0, mtime }) };
  }
  if (st.isSymbolicLink()) {
    const linkname = await readlink(path, { encoding: 'buffer' });
    return { bytes: entryHeader({ name: rel, type: '2', mode, size: 0, mtime, linkname }) };
  }
  if (!st.isFile()) return { skip: kindOf(st), path };
  const head = entryHeader({ name: rel, type: '0', mode, size: st.size, mtime });
  if (st.size > INLINE_FILE) return { bytes: head, big: { path, size: st.size } };
  const content = Buffer.alloc(st.size);
  if (st.size > 0) await withFile(path, (fd) => readExactly(path, fd, content, 0));
  return { bytes: Buffer.concat([head, content, padding(st.size)]) };
}

function ignore(): void {}

/**
 * Streams `dir` as a deterministic tar (the directory itself is not an entry; names are relative,
 * directories end with '/'). Filesystem errors reject with ErrTarSource carrying the cause.
 */
export async function* tarDirectory(dir: string, options: TarOptions = {}): AsyncGenerator<Buffer> {
  const root = Buffer.from(dir.length > 1 ? dir.replace(/\/+$/, '') : dir);
  // Entries are prepared (stat, small-file contents) a few at a time ahead of the consumer, since
  // one at a time leaves the disk and the threadpool idle; the order of output stays fixed.
  const items = listing(root, Buffer.alloc(0));
  const ahead: Promise<Prepared>[] = [];
  let listed = false;
  try {
    for (;;) {
      while (!listed && ahead.length < READ_AHEAD) {
        const next = await items.next();
        if (next.done) listed = true;
        else {
          const p = prepare(next.value);
          p.catch(ignore); // awaited below in order; must not count as unhandled meanwhile
          ahead.push(p);
        }
      }
      const p = ahead.shift();
      if (!p) break;
      const prepared = await p;
      if ('skip' in prepared) {
        options.onSkip?.(prepared.path.toString(), prepared.skip);
        continue;
      }
      yield prepared.bytes;
      if (prepared.big) yield* bigFile(prepared.big.path, prepared.big.size);
    }
  } catch (err) {
    if (err instanceof ErrTarSource) throw err;
    throw new ErrTarSource(`cannot archive ${dir}: ${(err as Error).message}`, err);
  }
  yield Buffer.alloc(2 * BLOCK);
}
