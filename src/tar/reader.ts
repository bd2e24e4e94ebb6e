// Reading tar streams entry by entry (base layers, docker-save archives, inspect), with tar-stream
// for the parsing, and a check of every name and link target before the caller sees the entry: an
// archive is hostile input, and one entry that lands outside the extraction root is enough.
import { Readable } from 'node:stream';
import { extract as tarExtract, type Header } from 'tar-stream';
import { ErrInvalidOption, ErrInvalidSource } from '../errors.js';
import { ErrTarInvalid, ErrTarUnsafeEntry } from './errors.js';

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

/** What tar-stream hands out per entry (a streamx Readable). */
interface TarStreamEntry extends AsyncIterable<Buffer> {
  header: Header;
  resume(): unknown;
}

export interface ReadTarOptions {
  /** Refuse symlinks with an absolute target too (default false: container tools resolve them inside the root). */
  rejectAbsoluteSymlinks?: boolean;
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
  const parts = components(h.name, 'the name', h.name);
  const name = parts.length === 0 ? '.' : parts.join('/');
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
    let depth = parts.length - 1;
    for (const p of target.split('/')) {
      if (p === '' || p === '.') continue;
      depth += p === '..' ? -1 : 1;
      if (depth < 0) throw new ErrTarUnsafeEntry(h.name, `the symlink target ${JSON.stringify(target)} points outside the root`);
    }
    return { name, linkname: target };
  }
  return { name };
}

/**
 * The entry's bytes with stream failures (a truncated archive) as ErrTarInvalid. Read through its
 * own reader, so stopping early leaves the rest to be drained instead of destroying the archive.
 */
function bodyOf(entry: TarStreamEntry, name: string): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator]: async function* () {
      // Not `for await`: its early return would destroy the entry, and with it the archive.
      const it = entry[Symbol.asyncIterator]();
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await it.next();
        } catch (err) {
          throw new ErrTarInvalid(`invalid tar stream in entry ${JSON.stringify(name)}: ${(err as Error).message}`, err);
        }
        if (next.done) return;
        yield next.value;
      }
    },
  };
}

function toReadable(source: unknown): Readable {
  if (source instanceof Readable) return source;
  if (source instanceof Uint8Array) return Readable.from([source]);
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
    return Readable.from(source as AsyncIterable<Uint8Array>);
  }
  throw new ErrInvalidSource(source, 'the tar source must be a Readable, an AsyncIterable of Uint8Array or a Uint8Array');
}

/**
 * The entries of a tar stream, in order. Each entry's name and link target are checked first
 * (ErrTarUnsafeEntry); a malformed or truncated stream rejects with ErrTarInvalid.
 */
export async function* readTar(source: Readable | AsyncIterable<Uint8Array> | Uint8Array, options: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  if (typeof options !== 'object' || options === null) throw new ErrInvalidOption('options', 'an object', options);
  const input = toReadable(source);
  const extract = tarExtract();
  let inputError: unknown;
  input.on('error', (err) => {
    inputError = err;
    extract.destroy(err);
  });
  input.pipe(extract as unknown as NodeJS.WritableStream);
  const entries = (extract as unknown as AsyncIterable<TarStreamEntry>)[Symbol.asyncIterator]();
  let current: TarStreamEntry | undefined;
  try {
    for (;;) {
      let next: IteratorResult<TarStreamEntry>;
      try {
        next = await entries.next();
      } catch (err) {
        if (inputError !== undefined) throw inputError;
        throw new ErrTarInvalid(`invalid tar stream: ${(err as Error).message}`, err);
      }
      if (next.done) break;
      current = next.value;
      const h = current.header;
      const type = (h.type ?? 'file') as TarEntryType;
      const checked = checkEntry({ name: h.name, type, linkname: h.linkname ?? null }, options);
      const header: TarHeader = {
        name: checked.name,
        type,
        size: h.size ?? 0,
        mode: h.mode ?? 0,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        uname: h.uname ?? '',
        gname: h.gname ?? '',
        mtime: h.mtime ?? new Date(0),
        devmajor: h.devmajor ?? 0,
        devminor: h.devminor ?? 0,
        ...(checked.linkname === undefined ? {} : { linkname: checked.linkname }),
        ...((h as { pax?: Record<string, string> }).pax ? { pax: (h as { pax?: Record<string, string> }).pax } : {}),
      };
      yield { header, body: bodyOf(current, header.name) };
      current.resume();
      current = undefined;
    }
  } finally {
    current?.resume();
    input.unpipe(extract as unknown as NodeJS.WritableStream);
    input.destroy();
    await entries.return?.();
  }
}
