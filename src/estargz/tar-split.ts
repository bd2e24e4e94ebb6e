// A tar stream cut into entries with their header blocks kept byte for byte: the eStargz blob must
// decompress to the same entries, so PAX and GNU records travel as they came. Names and link
// targets go through the project's one checker (tar/reader.ts checkEntry); the stream is hostile.
import { ErrTarInvalid } from '../tar/errors.js';
import { BLOCK, MAX_EXTENDED, absorb, applyPending, decodeHeader, hasPending, isExtended, isZeroBlock, type Pending } from '../tar/header.js';
import { Bytes, checkEntry, entryType, pad, tarHeader, type TarHeader } from '../tar/reader.js';

/** An entry as the tar reader describes it (tar/reader.ts), with its header blocks as written (extended headers first). */
export interface SplitEntry extends TarHeader {
  raw: Buffer[];
  /** Extended attributes (PAX SCHILY.xattr.NAME) as their bytes, keyed by NAME, for the TOC. */
  xattrs?: Record<string, Buffer>;
}

/**
 * A source's chunks, each checked and copied: a source may reuse a chunk's memory once handed on, and
 * members are held (read on a native call's worker). Not copied where `fresh()`, asked after each
 * chunk, says the source never touches it again (src/core/fresh-chunks.ts): a copy costs the main thread
 * a quarter of its time.
 */
async function* copied(source: AsyncIterable<Uint8Array>, fresh: () => boolean): AsyncGenerator<Buffer> {
  for await (const v of source as AsyncIterable<unknown>) {
    if (!(v instanceof Uint8Array)) throw new ErrTarInvalid('invalid tar stream: a chunk is not a Uint8Array');
    yield fresh() ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v);
  }
}

/**
 * ErrTarInvalid for a sparse file (GNU type 'S', or PAX GNU.sparse.* records, formats 0.x and 1.0):
 * its data in the tar is the compacted extents (1.0 adds a map before them, and a stand-in name
 * GNUSparseFile.N/...), not the file, so its TOC entry would name the wrong size, digest and chunks,
 * and a lazy reader would serve those bytes as the file. Plain gzip and zstd layers pass such a tar
 * through unparsed; the runtime's tar expands it.
 */
function refuseSparse(h: { type: string; name: string; pax?: Record<string, string> }): void {
  const pax = h.pax === undefined ? false : Object.keys(h.pax).some((k) => k.startsWith('GNU.sparse.'));
  if (h.type !== 'S' && !pax) return;
  // Format 1.0 names the file in a record; the header's name is a stand-in.
  const name = h.pax?.['GNU.sparse.name'] ?? h.name;
  throw new ErrTarInvalid(`invalid tar stream for eStargz: ${JSON.stringify(name)} is a sparse file (${pax ? 'PAX GNU.sparse records' : "GNU type 'S'"}); sparse files are not supported in eStargz layers: write the tar without -S (--sparse)`);
}

/** Cuts a tar stream into entries, on the tar reader's byte queue. */
export class TarSplitter {
  readonly #bytes: Bytes;
  readonly #pending: Pending = {};
  /** Whether any block was read: an empty stream is no archive at all (readTar's wording). */
  #started = false;
  /** Whether the end-of-archive block was read: asked again (prioritised files not in the tar), still the end. */
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>, fresh: () => boolean) {
    this.#bytes = new Bytes(copied(source, fresh)[Symbol.asyncIterator]());
  }

  /** Exactly n bytes of an entry's data, or ErrTarInvalid; without a promise when they are buffered (most entries). */
  data(n: number, name: string): Buffer | Promise<Buffer> {
    return this.#bytes.takeBuffered(n) ?? this.#read(n, name);
  }

  /** The same as views of the source's chunks, never copied (a file's data spanning several chunks). */
  parts(n: number, name: string): Buffer[] | Promise<Buffer[]> {
    return this.#bytes.takePartsBuffered(n) ?? this.#bytes.takeParts(n, `entry ${JSON.stringify(name)}`);
  }

  async #read(n: number, name: string): Promise<Buffer> {
    const b = await this.#bytes.take(n, `entry ${JSON.stringify(name)}`);
    if (b === undefined) throw new ErrTarInvalid(`invalid tar stream: it ends inside entry ${JSON.stringify(name)}`);
    return b;
  }

  /**
   * The next entry, or undefined at the end-of-archive block. A stream that stops at an entry boundary
   * without that block is refused, as readTar refuses it: a cut download or a full disk would
   * otherwise become a complete-looking layer that silently lacks the rest.
   */
  async next(): Promise<SplitEntry | undefined> {
    if (this.#ended) return undefined;
    const raw: Buffer[] = [];
    for (;;) {
      const block = this.#bytes.takeBuffered(BLOCK) ?? (await this.#bytes.take(BLOCK, 'a header'));
      if (block === undefined) {
        throw new ErrTarInvalid(this.#started ? 'invalid tar stream: it ends without its end-of-archive block (truncated?)' : 'invalid tar stream: it is empty (not a tar archive)');
      }
      this.#started = true;
      if (isZeroBlock(block)) {
        if (hasPending(this.#pending) || raw.length > 0) throw new ErrTarInvalid('invalid tar stream: an extended header has no entry after it');
        // Whatever follows the end-of-archive block is not part of the archive.
        await this.#bytes.drain();
        this.#ended = true;
        return undefined;
      }
      let h;
      try {
        h = decodeHeader(block);
      } catch (err) {
        throw new ErrTarInvalid(`invalid tar stream: a header has ${(err as Error).message}`, err);
      }
      raw.push(block);
      if (isExtended(h.type)) {
        if (h.size > MAX_EXTENDED) throw new ErrTarInvalid(`invalid tar stream: an extended header over ${MAX_EXTENDED} bytes`);
        const data = await this.data(h.size + pad(h.size), 'an extended header');
        raw.push(data);
        absorb(this.#pending, h.type, data.subarray(0, h.size));
        continue;
      }
      const a = applyPending(this.#pending, h);
      refuseSparse(a);
      const type = entryType(a);
      // Names and hard-link targets must stay inside the layer; a symlink's target is data that the
      // runtime resolves inside the container's root (image trees link up and out: /usr/share/doc).
      const symlink = type === 'symlink';
      if (symlink && (a.linkname === '' || a.linkname.includes('\0'))) throw new ErrTarInvalid(`invalid tar stream: the symlink ${JSON.stringify(a.name)} has an empty target or one with NUL`);
      const checked = checkEntry({ name: a.name, type: symlink ? 'file' : type, linkname: a.linkname });
      if (symlink) checked.linkname = a.linkname;
      return { raw, ...tarHeader(a, type, checked), ...(a.xattrs ? { xattrs: a.xattrs } : {}) };
    }
  }
}
