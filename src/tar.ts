// A small deterministic tar writer for turning a directory into a layer: ustar headers, PAX records
// only where ustar cannot hold a value, entries sorted by name bytes, owner normalised to root:root
// (uid/gid 0), mtime and permission bits kept. Streams: one file is read at a time in bounded chunks.
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { ErrTarSource } from './errors.js';

export interface TarOptions {
  /** Called for entries that are neither regular files, directories nor symlinks (they are left out). */
  onSkip?: (path: string, kind: string) => void;
}

const BLOCK = 512;
const READ_SIZE = 1024 * 1024;
/** Files up to this size are emitted as one chunk together with their header and padding. */
const INLINE_FILE = 64 * 1024;
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

async function* fileContents(path: Buffer, size: number, head: Buffer): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r');
  try {
    if (size <= INLINE_FILE) {
      const content = Buffer.alloc(size);
      await readFully(handle, content, path);
      yield Buffer.concat([head, content, padding(size)]);
      return;
    }
    yield head;
    for (let done = 0; done < size; ) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_SIZE, size - done));
      await readFully(handle, chunk, path);
      done += chunk.length;
      yield chunk;
    }
    yield padding(size);
  } finally {
    await handle.close();
  }
}

async function readFully(handle: import('node:fs/promises').FileHandle, into: Buffer, path: Buffer) {
  for (let off = 0; off < into.length; ) {
    const { bytesRead } = await handle.read(into, off, into.length - off, null);
    if (bytesRead === 0) throw new ErrTarSource(`${path.toString()}: file shrank while it was being read`);
    off += bytesRead;
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'unknown';
}

async function* walk(root: Buffer, rel: Buffer, options: TarOptions): AsyncGenerator<Buffer> {
  const names = (await readdir(join(root, rel), { encoding: 'buffer' })).sort(Buffer.compare);
  for (const name of names) {
    const relPath = join(rel, name);
    const path = join(root, relPath);
    const st = await lstat(path);
    const mode = st.mode & 0o7777;
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) {
      yield entryHeader({ name: Buffer.concat([relPath, SLASH]), type: '5', mode, size: 0, mtime });
      yield* walk(root, relPath, options);
    } else if (st.isFile()) {
      const head = entryHeader({ name: relPath, type: '0', mode, size: st.size, mtime });
      yield* fileContents(path, st.size, head);
    } else if (st.isSymbolicLink()) {
      const linkname = await readlink(path, { encoding: 'buffer' });
      yield entryHeader({ name: relPath, type: '2', mode, size: 0, mtime, linkname });
    } else {
      options.onSkip?.(path.toString(), kindOf(st));
    }
  }
}

/**
 * Streams `dir` as a deterministic tar (the directory itself is not an entry; names are relative,
 * directories end with '/'). Filesystem errors reject with ErrTarSource carrying the cause.
 */
export async function* tarDirectory(dir: string, options: TarOptions = {}): AsyncGenerator<Buffer> {
  const root = Buffer.from(dir.length > 1 ? dir.replace(/\/+$/, '') : dir);
  try {
    yield* walk(root, Buffer.alloc(0), options);
  } catch (err) {
    if (err instanceof ErrTarSource) throw err;
    throw new ErrTarSource(`cannot archive ${dir}: ${(err as Error).message}`, err);
  }
  yield Buffer.alloc(2 * BLOCK);
}
