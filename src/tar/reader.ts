// Reading tar streams entry by entry (base layers, docker-save archives, inspect), with the project's
// own header decoder (header.ts) for the parsing, and a check of every name and link target before the caller sees the entry: an
// archive is hostile input, and one entry that lands outside the extraction root is enough.
import { Readable } from 'node:stream';
import { ErrInvalidOption, ErrInvalidSource } from '../core/errors.js';
import { ErrTarInvalid, ErrTarUnsafeEntry } from './errors.js';
import { BLOCK, MAX_EXTENDED, absorb, applyPending, decodeHeader, hasPending, isExtended, isZeroBlock, type Pending, type RawHeader } from './header.js';

export type TarEntryType =
  | 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo' | 'contiguous-file';

export interface TarHeader {
  /** Normalised relative name: no leading './' or '/', no trailing '/'; '.' for the root. */
  name: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: Date;
  /** Hard link: normalised name of the entry it links to. Symlink: the target as written. */
  linkname?: string;
  devmajor: number;
  devminor: number;
  /** PAX records of the entry (path, size, SCHILY.xattr.*, ...), when it had any. */
  pax?: Record<string, string>;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's bytes. Read it or leave it: the next entry drains what was left. */
  body: AsyncIterable<Buffer>;
}

export interface ReadTarOptions {
  /** Refuse symlinks with an absolute target too (default false: container tools resolve them inside the root). */
  rejectAbsoluteSymlinks?: boolean;
}

/**
 * Whether a name is already normalised, so that components() would give it back unchanged: no empty,
 * '.' or '..' component, no NUL (most names of a real archive; a directory's trailing '/' aside).
 * Spares a split, a filter and a join per entry.
 */
function isNormal(raw: string): boolean {
  return raw !== '' && raw !== '.' && raw !== '..' && raw[0] !== '/' && !raw.endsWith('/') && !raw.startsWith('./') &&
    !raw.startsWith('../') && !raw.endsWith('/.') && !raw.endsWith('/..') && !raw.includes('//') &&
    !raw.includes('/./') && !raw.includes('/../') && !raw.includes('\0');
}

/** The name's components, or an ErrTarUnsafeEntry when it is absolute or climbs with '..'. */
function components(raw: string, what: string, entry: string): string[] {
  if (raw.includes('\0')) throw new ErrTarUnsafeEntry(entry, `${what} contains a NUL byte`);
  if (raw.startsWith('/')) throw new ErrTarUnsafeEntry(entry, `${what} is absolute`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ErrTarUnsafeEntry(entry, `${what} contains '..'`);
  return parts;
}

/** Checks a header and returns its normalised form. Exported for callers that parse tar themselves. */
export function checkEntry(h: { name: string; type?: string | null; linkname?: string | null }, options: ReadTarOptions = {}): { name: string; linkname?: string } {
  // A directory's name ends with '/': the rest of it may still be normal.
  const trimmed = h.name.endsWith('/') && !h.name.endsWith('//') ? h.name.slice(0, -1) : h.name;
  let name: string;
  if (isNormal(trimmed)) {
    name = trimmed;
  } else {
    const parts = components(h.name, 'the name', h.name);
    name = parts.length === 0 ? '.' : parts.join('/');
  }
  if (name === '.' && h.type !== 'directory') throw new ErrTarUnsafeEntry(h.name, 'a non-directory entry names the root');
  if (h.type === 'link') {
    const target = components(h.linkname ?? '', 'the hard link target', h.name);
    if (target.length === 0) throw new ErrTarUnsafeEntry(h.name, 'the hard link target is empty or the root');
    return { name, linkname: target.join('/') };
  }
  if (h.type === 'symlink') {
    const target = h.linkname ?? '';
    if (target === '' || target.includes('\0')) throw new ErrTarUnsafeEntry(h.name, 'the symlink target is empty or contains NUL');
    if (target.startsWith('/')) {
      if (options.rejectAbsoluteSymlinks) throw new ErrTarUnsafeEntry(h.name, 'the symlink target is absolute');
      return { name, linkname: target };
    }
    // Resolved lexically from the link's directory, it must never go above the root.
    // The link's directory is its name's components but the last (the name is normalised).
    let depth = (name === '.' ? 0 : name.split('/').length) - 1;
    for (const p of target.split('/')) {
      if (p === '' || p === '.') continue;
      depth += p === '..' ? -1 : 1;
      if (depth < 0) throw new ErrTarUnsafeEntry(h.name, `the symlink target ${JSON.stringify(target)} points outside the root`);
    }
    return { name, linkname: target };
  }
  return { name };
}

function toReadable(source: unknown): Readable {
  if (source instanceof Readable) return source;
  if (source instanceof Uint8Array) return Readable.from([source]);
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
    return Readable.from(source as AsyncIterable<Uint8Array>);
  }
  throw new ErrInvalidSource(source, 'the tar source must be a Readable, an AsyncIterable of Uint8Array or a Uint8Array');
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file', '\0': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device',
  '5': 'directory', '6': 'fifo', '7': 'contiguous-file',
};

/** The entry type of a decoded header (extended headers already applied). */
export function entryType(h: { type: string; size: number; name: string }): TarEntryType {
  // V7 tars (type NUL) mark directories by a trailing '/'; a '0' entry with data stays a file, so
  // one named './' is refused as a file named as the root.
  return h.type === '\0' && h.size === 0 && h.name.endsWith('/') ? 'directory' : (TYPES[h.type] ?? 'file');
}

/**
 * Bytes of a stream taken exactly as asked: whole blocks, or up to a count of data bytes. Shared by
 * readTar and the eStargz splitter (estargz/tar-split.ts), which keeps header blocks as they came.
 */
export class Bytes {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #done = false;
  constructor(private readonly it: AsyncIterator<unknown>) {}

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const next = await this.it.next();
    if (next.done) {
      this.#done = true;
      return false;
    }
    const v = next.value;
    const b = Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(String(v));
    if (b.length > 0) {
      this.#chunks.push(b);
      this.#buffered += b.length;
    }
    return true;
  }

  /** Reads until `n` bytes are buffered: false when the stream ends first. */
  async #fillTo(n: number): Promise<boolean> {
    while (this.#buffered < n) if (!(await this.#fill())) return false;
    return true;
  }

  /** Exactly `n` bytes, or undefined at a clean end (nothing buffered); ErrTarInvalid when cut. */
  async take(n: number, what: string): Promise<Buffer | undefined> {
    if (!(await this.#fillTo(n))) {
      if (this.#buffered === 0) return undefined;
      throw new ErrTarInvalid(`invalid tar stream: it ends inside ${what}`);
    }
    return this.#cut(n);
  }

  /** Exactly `n` bytes when that many are buffered already, else undefined (a caller's fast path: no promise). */
  takeBuffered(n: number): Buffer | undefined {
    return this.#buffered >= n ? this.#cut(n) : undefined;
  }

  /**
   * Exactly `n` bytes as views of the stream's chunks, never copied (a caller that hands the bytes
   * on in pieces: the eStargz writer), or ErrTarInvalid when the stream ends first.
   */
  async takeParts(n: number, what: string): Promise<Buffer[]> {
    if (!(await this.#fillTo(n))) throw new ErrTarInvalid(`invalid tar stream: it ends inside ${what}`);
    return this.#parts(n);
  }

  /** takeParts without a promise when the bytes are buffered already, else undefined. */
  takePartsBuffered(n: number): Buffer[] | undefined {
    return this.#buffered >= n ? this.#parts(n) : undefined;
  }

  #cut(n: number): Buffer {
    const head = this.#chunks[0];
    if (head !== undefined && head.length >= n) {
      // Within one chunk (nearly every header and small file): a view, no list of parts.
      this.#buffered -= n;
      if (head.length === n) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(n);
      return head.length === n ? head : head.subarray(0, n);
    }
    // Only the bytes asked for are copied (a header from a 1 MiB chunk is a view of it).
    const parts = this.#parts(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  #parts(n: number): Buffer[] {
    this.#buffered -= n;
    const parts: Buffer[] = [];
    for (let want = n; want > 0; ) {
      const first = this.#chunks[0]!;
      const k = Math.min(want, first.length);
      if (k === first.length) {
        parts.push(first);
        this.#chunks.shift();
      } else {
        parts.push(first.subarray(0, k));
        this.#chunks[0] = first.subarray(k);
      }
      want -= k;
    }
    return parts;
  }

  /** Reads the stream to its end, keeping nothing (what follows an end-of-archive block). */
  async drain(): Promise<void> {
    while (await this.#fill()) this.#chunks = [];
    this.#buffered = 0;
  }

  /** Up to `max` bytes that are already there or come next; ErrTarInvalid when the stream ends. */
  async some(max: number, what: string): Promise<Buffer> {
    if (this.#buffered === 0 && !(await this.#fill())) throw new ErrTarInvalid(`invalid tar stream: it ends inside ${what}`);
    if (this.#buffered === 0) return Buffer.alloc(0);
    const first = this.#chunks[0]!;
    const n = Math.min(max, first.length);
    if (n === first.length) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#buffered -= n;
    return first.subarray(0, n);
  }
}

/**
 * The header of an entry from its decoded header (extended headers applied), its entry type and its
 * checked name and link target: readTar's and the eStargz splitter's (estargz/tar-split.ts) one form.
 */
export function tarHeader(h: RawHeader & { pax?: Record<string, string> }, type: TarEntryType, checked: { name: string; linkname?: string }): TarHeader {
  return {
    name: checked.name,
    type,
    size: h.size,
    mode: h.mode & 0o7777,
    uid: h.uid,
    gid: h.gid,
    uname: h.uname,
    gname: h.gname,
    mtime: new Date(h.mtime * 1000),
    devmajor: h.devmajor,
    devminor: h.devminor,
    ...(checked.linkname === undefined ? {} : { linkname: checked.linkname }),
    ...(h.pax ? { pax: h.pax } : {}),
  };
}

/** Bytes of padding after `n` bytes of data, up to the next block. */
export const pad = (n: number): number => (BLOCK - (n % BLOCK)) % BLOCK;

/**
 * The entries of a tar stream, in order, decoded by header.ts (the decoder every archive reader of
 * the project uses: PAX path, linkpath, size, uid, gid, uname, gname; GNU long names; base-256).
 * Each entry's name and link target are checked first (ErrTarUnsafeEntry); a malformed or truncated
 * stream rejects with ErrTarInvalid, also from inside an entry's body, and so does one that ends
 * without its end-of-archive block (a stream cut at an entry boundary) or is empty.
 */
export async function* readTar(source: Readable | AsyncIterable<Uint8Array> | Uint8Array, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  if (typeof options !== 'object' || options === null) throw new ErrInvalidOption('options', 'an object', options);
  const input = toReadable(source);
  const it = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const bytes = new Bytes(it);
  const pending: Pending = {};
  let blocks = 0;
  try {
    for (;;) {
      const block = await bytes.take(BLOCK, 'a header');
      // A stream that stops at an entry boundary without its end-of-archive block is a truncated copy
      // as likely as a complete one (a cut download, a full disk): refused, as indexTar and TarCheck
      // refuse it, so that no caller takes part of a layer for all of it. Empty is no archive at all.
      if (block === undefined) {
        throw new ErrTarInvalid(blocks === 0 ? 'invalid tar stream: it is empty (not a tar archive)' : 'invalid tar stream: it ends without its end-of-archive block (truncated?)');
      }
      blocks++;
      if (isZeroBlock(block)) {
        if (hasPending(pending)) throw new ErrTarInvalid('invalid tar stream: an extended header has no entry after it');
        break;
      }
      let raw: RawHeader;
      try {
        raw = decodeHeader(block);
      } catch (err) {
        throw new ErrTarInvalid(`invalid tar stream: a header has ${(err as Error).message}`, err);
      }
      if (isExtended(raw.type)) {
        if (raw.size > MAX_EXTENDED) throw new ErrTarInvalid(`invalid tar stream: an extended header over ${MAX_EXTENDED} bytes`);
        const data = (await bytes.take(raw.size + pad(raw.size), 'an extended header')) ?? Buffer.alloc(0);
        if (data.length < raw.size) throw new ErrTarInvalid('invalid tar stream: it ends inside an extended header');
        absorb(pending, raw.type, data.subarray(0, raw.size));
        continue;
      }
      const h = applyPending(pending, raw);
      const type = entryType(h);
      const checked = checkEntry({ name: h.name, type, linkname: h.linkname }, options);
      const header = tarHeader(h, type, checked);
      let left = h.size;
      const name = header.name;
      const body: AsyncIterable<Buffer> = {
        [Symbol.asyncIterator]: async function* () {
          while (left > 0) {
            const chunk = await bytes.some(left, `entry ${JSON.stringify(name)}`);
            left -= chunk.length;
            yield chunk;
          }
        },
      };
      yield { header, body };
      // What the caller left unread is skipped, with the padding after it.
      while (left > 0) left -= (await bytes.some(left, `entry ${JSON.stringify(name)}`)).length;
      if (pad(h.size) > 0 && (await bytes.take(pad(h.size), `entry ${JSON.stringify(name)}`)) === undefined) {
        throw new ErrTarInvalid(`invalid tar stream: it ends inside entry ${JSON.stringify(name)}`);
      }
    }
  } finally {
    input.destroy();
    await it.return?.();
  }
}
