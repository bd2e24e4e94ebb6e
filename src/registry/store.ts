// Where a pushed OCI layout's files are read from: a directory, or a tar archive holding one (what
// fastlayer's archives and `docker save` since Docker 25 are). An archive is indexed once (names,
// offsets, sizes); its blobs are then read as byte ranges of the file, so they stay known blobs that
// can be HEAD-checked, skipped and re-read for a retry. Nothing is extracted to disk.
import { createReadStream } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/** A file of the layout that cannot be read as it should (missing, too big, malformed archive). */
export class ErrLayoutInvalid extends Error {
  readonly code = 'ERR_LAYOUT_INVALID' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrLayoutInvalid';
  }
}

export interface LayoutStore {
  /** The directory or archive, for messages. */
  readonly where: string;
  /** Bytes of a small file (index.json, a manifest), at most `cap`. */
  read(name: string, cap: number): Promise<Buffer>;
  /** Size of a file, or undefined when absent. */
  size(name: string): Promise<number | undefined>;
  open(name: string): Readable;
}

const HIGH_WATER = 1024 * 1024;

export function directoryStore(dir: string): LayoutStore {
  return {
    where: dir,
    async read(name, cap) {
      let handle;
      try {
        handle = await open(join(dir, name), 'r');
      } catch (err) {
        throw new ErrLayoutInvalid(`cannot read ${name} in ${dir}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
      }
      try {
        if ((await handle.stat()).size > cap) throw new ErrLayoutInvalid(`${name} in ${dir} is larger than ${cap} bytes`);
        return await handle.readFile();
      } finally {
        await handle.close();
      }
    },
    async size(name) {
      try {
        // A blob that is a symlink could read any file of the machine into a push: not a layout blob.
        const s = await lstat(join(dir, name));
        return s.isFile() ? s.size : undefined;
      } catch {
        return undefined;
      }
    },
    open: (name) => createReadStream(join(dir, name), { highWaterMark: HIGH_WATER }),
  };
}

interface Entry {
  offset: number;
  size: number;
}

const BLOCK = 512;
const MAX_ENTRIES = 1_000_000;

/** Indexes the regular files of a tar archive (ustar, PAX and GNU long names). */
export async function archiveStore(file: string): Promise<LayoutStore> {
  const entries = new Map<string, Entry>();
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new ErrLayoutInvalid(`cannot read the archive ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  try {
    const total = (await handle.stat()).size;
    const header = Buffer.alloc(BLOCK);
    let offset = 0;
    let longName: string | undefined;
    for (let count = 0; ; count++) {
      if (count > MAX_ENTRIES) throw new ErrLayoutInvalid(`${file}: more than ${MAX_ENTRIES} tar entries`);
      if (offset + BLOCK > total) throw new ErrLayoutInvalid(`${file}: tar archive ends without its end-of-archive blocks`);
      await handle.read(header, 0, BLOCK, offset);
      if (header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw new ErrLayoutInvalid(`${file}: tar header at byte ${offset} has a wrong checksum`);
      const size = tarNumber(header.subarray(124, 136), file, offset);
      const type = String.fromCharCode(header[156]!);
      const dataStart = offset + BLOCK;
      if (dataStart + size > total) throw new ErrLayoutInvalid(`${file}: tar entry at byte ${offset} runs past the end of the file`);
      if (type === 'x' || type === 'L') {
        if (size > 1024 * 1024) throw new ErrLayoutInvalid(`${file}: extended tar header over 1 MiB`);
        const data = Buffer.alloc(size);
        await handle.read(data, 0, size, dataStart);
        longName = type === 'L' ? data.toString('utf8').replace(/\0.*$/s, '') : (paxPath(data) ?? longName);
      } else {
        if (type === '0' || type === '\0' || type === '7') {
          const name = normalise(longName ?? ustarName(header));
          if (name !== undefined) entries.set(name, { offset: dataStart, size });
        }
        longName = undefined;
      }
      offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    await handle.close();
  }
  return {
    where: file,
    async read(name, cap) {
      const e = entries.get(name);
      if (!e) throw new ErrLayoutInvalid(`the archive ${file} holds no ${name}`);
      if (e.size > cap) throw new ErrLayoutInvalid(`${name} in ${file} is larger than ${cap} bytes`);
      const h = await open(file, 'r');
      try {
        const buf = Buffer.alloc(e.size);
        const { bytesRead } = await h.read(buf, 0, e.size, e.offset);
        if (bytesRead !== e.size) throw new ErrLayoutInvalid(`${file} was truncated while read`);
        return buf;
      } finally {
        await h.close();
      }
    },
    async size(name) {
      return entries.get(name)?.size;
    },
    open(name) {
      const e = entries.get(name)!;
      // createReadStream has no empty range.
      if (e.size === 0) return Readable.from([]);
      return createReadStream(file, { start: e.offset, end: e.offset + e.size - 1, highWaterMark: HIGH_WATER });
    },
  };
}

function checksumOk(h: Buffer): boolean {
  const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/[\0 ]+/g, ' ').trim() || 'x', 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return stored === sum;
}

function tarNumber(field: Buffer, file: string, at: number): number {
  if (field[0]! & 0x80) {
    // GNU base-256 for sizes over 8 GiB.
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new ErrLayoutInvalid(`${file}: tar size at byte ${at} is too large`);
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (!/^[0-7]*$/.test(text)) throw new ErrLayoutInvalid(`${file}: tar size at byte ${at} is not octal`);
  return text === '' ? 0 : parseInt(text, 8);
}

function ustarName(h: Buffer): string {
  const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
  const magic = h.subarray(257, 263).toString('latin1');
  const prefix = magic.startsWith('ustar') ? h.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '') : '';
  return prefix ? `${prefix}/${name}` : name;
}

function paxPath(data: Buffer): string | undefined {
  let at = 0;
  let path: string | undefined;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) break;
    const record = data.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += len;
  }
  return path;
}

/** `./blobs/sha256/x` -> `blobs/sha256/x`; names with `..` or absolute are not layout files. */
function normalise(name: string): string | undefined {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..') || name.startsWith('/')) return undefined;
  return parts.join('/');
}
