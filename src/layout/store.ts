// The one reader of local image stores: an OCI layout or docker-save directory, or a tar archive
// holding one (fastlayer's archives, `docker save`, skopeo, umoci). loadBase, pushLayout/pushArchive
// and inspect all read through it, so one set of rules holds everywhere:
// - names are plain relative paths (no absolute path, no `..`, no empty component, no NUL);
// - in a directory every component is opened through its parent's descriptor without following a
//   symlink (src/tar/fs-safe.ts), the file itself with O_NOFOLLOW|O_NONBLOCK (a FIFO cannot block
//   the open) and fstat must say regular file: a symlinked blob, blobs/ or blobs/sha256/, a FIFO,
//   a device or a socket is ERR_LAYOUT_INVALID (or the caller's own error) before anything is read;
// - an archive is indexed once through the project's tar decoder (src/tar/index.ts: PAX path,
//   linkpath and size records, GNU long names, base-256 sizes) and its blobs are read as byte ranges
//   of the file, so they stay known blobs that can be HEAD-checked, skipped and re-read for a retry.
//   Links inside the archive (docker save before 25 links repeated layers) resolve to another entry's
//   data in the same archive; a link that leaves the archive, a device or a FIFO entry, a name given
//   twice or an unsafe name refuses the whole archive.
import * as fs from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { verifiedStream, type Expected } from '../core/verify.js';
import { ErrTarInvalid } from '../tar/errors.js';
import { closeNow, openDir, openEntry, openRoot, type DirRef } from '../tar/fs-safe.js';
import { indexTar } from '../tar/index.js';
import { ErrLayout, layoutInvalid } from '../image/errors.js';

/**
 * @deprecated The same class as ErrLayout (src/image/errors.ts), kept so that `instanceof
 * ErrLayoutInvalid` still holds: what fastlayer throws while reading a layout is an ErrLayout with
 * code ERR_LAYOUT_INVALID (layoutInvalid). Constructed directly it has ErrLayout's default code.
 */
export const ErrLayoutInvalid = ErrLayout;
/** @deprecated ErrLayout. */
export type ErrLayoutInvalid = ErrLayout;

/** The errors a caller wants: loadBase reports ERR_BASE_IMAGE / ERR_UNSAFE_ARCHIVE_PATH, the others ERR_LAYOUT_INVALID. */
export interface StoreErrors {
  invalid(message: string, cause?: unknown): Error;
  unsafe(where: string, name: string): Error;
}

const LAYOUT_ERRORS: StoreErrors = {
  invalid: (message, cause) => layoutInvalid(message, cause),
  unsafe: (where, name) => layoutInvalid(`${where}: unsafe name ${JSON.stringify(name)} (absolute, "..", or empty component)`),
};

/** What the bytes of a blob must be; checked while they stream (src/core/verify.ts). */
export type { Expected } from '../core/verify.js';

export interface LayoutStore {
  /** The directory or archive, for messages. */
  readonly where: string;
  /** Bytes of a small file (index.json, a manifest), at most `cap`. */
  read(name: string, cap: number): Promise<Buffer>;
  /** Size of a regular file, or undefined when absent; anything else under that name is an error. */
  size(name: string): Promise<number | undefined>;
  /** The file's bytes; with `expected`, a mismatch fails the stream with ERR_DIGEST_MISMATCH. */
  open(name: string, expected?: Expected): Readable;
  /**
   * `length` bytes of the file from `offset` (an eStargz layer's footer and TOC, read without the
   * rest: `fastlayer inspect`). Unverified: the caller checks what it reads (the TOC against its
   * digest). A range past the file's end is an error.
   */
  readRange(name: string, offset: number, length: number): Promise<Buffer>;
}

/** Exactly `length` bytes of `fd` from `start`, or the store's invalid error. */
async function readExactly(fd: number, start: number, length: number, fail: () => Error): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of readFd(fd, start, length)) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== length) throw fail();
  return bytes;
}

function checkRange(offset: number, length: number, size: number, fail: () => Error): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) throw fail();
}

const HIGH_WATER = 1024 * 1024;

/**
 * `./blobs/sha256/x` -> `blobs/sha256/x`. A leading `./` and a trailing `/` are tar's habits; anything
 * that could resolve outside the root, or name it, is refused.
 */
export function storeName(name: string): string | undefined {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  if (n.endsWith('/')) n = n.slice(0, -1);
  if (n === '' || name.startsWith('/') || n.includes('\0')) return undefined;
  const parts = n.split('/');
  if (parts.some((p) => p === '..' || p === '' || p === '.')) return undefined;
  return n;
}

function checked(where: string, name: string, errors: StoreErrors): string {
  const n = typeof name === 'string' ? storeName(name) : undefined;
  if (n === undefined) throw errors.unsafe(where, String(name));
  return n;
}

function stream(chunks: AsyncIterable<Uint8Array>, expected: Expected | undefined, what: string): Readable {
  return expected ? verifiedStream(chunks, expected, { what }, HIGH_WATER) : Readable.from(chunks, { objectMode: false, highWaterMark: HIGH_WATER });
}

/** Reads `fd` from `start` for `length` bytes (or to its end), in pieces of HIGH_WATER. */
async function* readFd(fd: number, start: number, length: number): AsyncGenerator<Uint8Array> {
  let position = start;
  let left = length;
  while (left > 0) {
    const buf = Buffer.allocUnsafe(Math.min(HIGH_WATER, left));
    const n = await new Promise<number>((resolve, reject) => fs.read(fd, buf, 0, buf.length, position, (err, got) => (err ? reject(err) : resolve(got))));
    if (n === 0) return;
    position += n;
    left -= n;
    yield buf.subarray(0, n);
  }
}

// ---- Directories

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'EMLINK') return 'is a symlink (or has one on its path), not a regular file of the layout';
  // O_DIRECTORY|O_NOFOLLOW on a symlink is ENOTDIR on Linux.
  if (code === 'ENOTDIR') return 'has a symlink (or a file) where its path needs a directory';
  if (code === 'ERR_TAR_SOURCE_CHANGED') return 'is not a regular file (a FIFO, device, socket or directory)';
  return `cannot be read: ${code ?? (err as Error).message}`;
}

/** Opens `name` inside `dir` component by component, never following a link; undefined when absent. */
async function openInside(dir: string, name: string, errors: StoreErrors): Promise<{ fd: number; size: number } | undefined> {
  const parts = name.split('/');
  let d: DirRef;
  try {
    d = await openRoot(Buffer.from(dir));
  } catch (err) {
    throw errors.invalid(`${dir}: not a readable directory: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  try {
    for (const [i, p] of parts.entries()) {
      const display = Buffer.from(posix.join(dir, ...parts.slice(0, i + 1)));
      if (i < parts.length - 1) {
        const next = await openDir(d, Buffer.from(p), display);
        d.release();
        d = next;
        continue;
      }
      const o = await openEntry(d, Buffer.from(p), 'file', display);
      if (o.kind !== 'file') throw errors.invalid(`${name} in ${dir} is not a regular file`);
      return { fd: o.fd, size: o.st.size };
    }
    throw errors.unsafe(dir, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof Error && err.name !== 'ErrTarSourceChanged' && 'code' in err && String(err.code).startsWith('ERR_')) throw err;
    throw errors.invalid(`${name} in ${dir} ${why(err)}`, err);
  } finally {
    d.release();
  }
}

/**
 * The bytes of the small file `name` inside `dir` (at most `cap`), opened as every read of a
 * directory store is; undefined when absent. The layout writer reads index.json, oci-layout and its
 * lock with it (a missing one is normal there).
 */
export async function readInside(dir: string, name: string, cap: number, errors: StoreErrors = LAYOUT_ERRORS): Promise<Buffer | undefined> {
  const f = await openInside(dir, checked(dir, name, errors), errors);
  if (!f) return undefined;
  try {
    if (f.size > cap) throw errors.invalid(`${name} in ${dir} is larger than ${cap} bytes`);
    const chunks: Uint8Array[] = [];
    for await (const c of readFd(f.fd, 0, cap + 1)) chunks.push(c);
    const bytes = Buffer.concat(chunks);
    if (bytes.length > cap) throw errors.invalid(`${name} in ${dir} is larger than ${cap} bytes`);
    return bytes;
  } finally {
    closeNow(f.fd);
  }
}

export function directoryStore(dir: string, errors: StoreErrors = LAYOUT_ERRORS): LayoutStore {
  const must = async (name: string): Promise<{ fd: number; size: number }> => {
    const f = await openInside(dir, checked(dir, name, errors), errors);
    if (!f) throw errors.invalid(`${dir} holds no ${name}`);
    return f;
  };
  return {
    where: dir,
    async read(name, cap) {
      const bytes = await readInside(dir, name, cap, errors);
      if (!bytes) throw errors.invalid(`${dir} holds no ${name}`);
      return bytes;
    },
    async size(name) {
      const f = await openInside(dir, checked(dir, name, errors), errors);
      if (f) closeNow(f.fd);
      return f?.size;
    },
    open(name, expected) {
      async function* chunks(): AsyncGenerator<Uint8Array> {
        const f = await must(name);
        try {
          yield* readFd(f.fd, 0, Number.MAX_SAFE_INTEGER);
        } finally {
          closeNow(f.fd);
        }
      }
      return stream(chunks(), expected, `${name} in ${dir}`);
    },
    async readRange(name, offset, length) {
      const f = await must(name);
      const fail = () => errors.invalid(`${name} in ${dir} has no bytes ${offset} to ${offset + length} (it has ${f.size})`);
      try {
        checkRange(offset, length, f.size, fail);
        return await readExactly(f.fd, offset, length, fail);
      } finally {
        closeNow(f.fd);
      }
    },
  };
}

// ---- Archives

interface Entry {
  offset: number;
  size: number;
}

const REGULAR = new Set(['0', '\0', '7']);

async function openArchive(file: string, errors: StoreErrors): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: a FIFO given as the archive must not hang the open.
    fh = await openFile(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw errors.invalid(`cannot read the archive ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw errors.invalid(`${file} is neither a directory nor a regular file (an archive)`);
  }
  return fh;
}

/** Indexes the regular files of a tar archive: name -> data offset and size, links resolved inside it. */
export async function archiveStore(file: string, errors: StoreErrors = LAYOUT_ERRORS): Promise<LayoutStore> {
  const entries = new Map<string, Entry>();
  const links = new Map<string, string>();
  const fh = await openArchive(file, errors);
  let identity: fs.Stats;
  try {
    identity = await fh.stat();
    for await (const e of indexTar(fh, identity.size)) {
      if (e.type === '5') {
        // `tar -C dir .` starts with the root itself.
        if (storeName(e.name) === undefined && e.name !== '.' && e.name !== './') throw errors.unsafe(file, e.name);
        continue;
      }
      const name = checked(file, e.name, errors);
      if (entries.has(name) || links.has(name)) {
        // tar -x keeps the last, other readers the first: two readers could see two images.
        throw errors.invalid(`${file}: entry ${JSON.stringify(name)} appears twice`);
      }
      if (REGULAR.has(e.type)) entries.set(name, { offset: e.offset, size: e.size });
      else if (e.type === '1') links.set(name, checked(file, e.linkname, errors));
      else if (e.type === '2') {
        const target = e.linkname;
        if (target.startsWith('/')) throw errors.unsafe(file, `${name} -> ${target}`);
        const resolved = storeName(posix.normalize(posix.join(posix.dirname(name), target)));
        if (resolved === undefined) throw errors.unsafe(file, `${name} -> ${target}`);
        links.set(name, resolved);
      } else {
        throw errors.invalid(`${file}: unexpected entry ${JSON.stringify(name)} of tar type ${JSON.stringify(e.type)} in an image archive`);
      }
    }
  } catch (err) {
    if (err instanceof ErrTarInvalid) throw errors.invalid(`${file}: not a readable tar archive: ${err.message}`, err);
    throw err;
  } finally {
    await fh.close();
  }
  for (const [name, first] of links) {
    let target = first;
    for (let hops = 0; !entries.has(target); hops++) {
      const next = links.get(target);
      if (next === undefined || hops > 16) throw errors.invalid(`${file}: link ${JSON.stringify(name)} does not lead to a file in the archive`);
      target = next;
    }
    entries.set(name, entries.get(target)!);
  }
  const entry = (name: string): Entry => {
    const e = entries.get(checked(file, name, errors));
    if (!e) throw errors.invalid(`the archive ${file} holds no ${name}`);
    return e;
  };
  /** The archive again, and the same file as indexed: the offsets are only valid in that one. */
  const reopen = async (): Promise<FileHandle> => {
    const h = await openArchive(file, errors);
    const st = await h.stat();
    if (st.dev !== identity.dev || st.ino !== identity.ino || st.size !== identity.size) {
      await h.close();
      throw errors.invalid(`${file} changed since it was indexed`);
    }
    return h;
  };
  return {
    where: file,
    async read(name, cap) {
      const e = entry(name);
      if (e.size > cap) throw errors.invalid(`${name} in ${file} is larger than ${cap} bytes`);
      const h = await reopen();
      try {
        const buf = Buffer.alloc(e.size);
        const { bytesRead } = await h.read(buf, 0, e.size, e.offset);
        if (bytesRead !== e.size) throw errors.invalid(`${file} was truncated while read`);
        return buf;
      } finally {
        await h.close();
      }
    },
    async size(name) {
      return entries.get(checked(file, name, errors))?.size;
    },
    open(name, expected) {
      const e = entry(name);
      async function* chunks(): AsyncGenerator<Uint8Array> {
        const h = await reopen();
        try {
          let got = 0;
          for await (const c of readFd(h.fd, e.offset, e.size)) {
            got += c.byteLength;
            yield c;
          }
          if (got !== e.size) throw errors.invalid(`${file} was truncated while read`);
        } finally {
          await h.close();
        }
      }
      return stream(chunks(), expected, `${name} in ${file}`);
    },
    async readRange(name, offset, length) {
      const e = entry(name);
      checkRange(offset, length, e.size, () => errors.invalid(`${name} in ${file} has no bytes ${offset} to ${offset + length} (it has ${e.size})`));
      const h = await reopen();
      try {
        return await readExactly(h.fd, e.offset + offset, length, () => errors.invalid(`${file} was truncated while read`));
      } finally {
        await h.close();
      }
    },
  };
}

/** A directory store for a directory, an archive store for anything else. */
export async function openStore(path: string, errors: StoreErrors = LAYOUT_ERRORS): Promise<LayoutStore> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
  } catch (err) {
    throw errors.invalid(`${path}: ${(err as Error).message}`, err);
  }
  return st.isDirectory() ? directoryStore(path, errors) : archiveStore(path, errors);
}
