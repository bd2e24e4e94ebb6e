// Walks the headers of a tar archive in a file and reports where each entry's data lies, without
// reading the data: the one archive indexer of the project (image bases, pushed layouts, inspect).
// Every header goes through header.ts's decoder; PAX 'x' records (path, linkpath, size) and GNU 'L'/'K'
// long names apply to the entry that follows, as Go's archive/tar, GNU tar and Python apply them, so
// an entry over 8 GiB written with a PAX size record (Go, Python) is found where those tools find it.
import type { FileHandle } from 'node:fs/promises';
import { ErrTarInvalid } from './errors.js';
import { BLOCK, MAX_EXTENDED, absorb, applyPending, decodeHeader, hasPending, isExtended, isZeroBlock, type Pending } from './header.js';

export interface IndexedEntry {
  /** The name as the archive gives it (PAX path or GNU long name applied), not yet normalised. */
  name: string;
  linkname: string;
  /** Type flag: '0'/'\0' file, '1' hard link, '2' symlink, '5' directory, ... */
  type: string;
  /** Offset of the entry's data in the file, and its size (0 for header-only types). */
  offset: number;
  size: number;
  /** Offset of its (first) header block, for messages. */
  header: number;
}

const MAX_ENTRIES = 1_000_000;

const pad = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw new ErrTarInvalid(`the archive ends inside the header at byte ${position}`);
    got += bytesRead;
  }
  return buf;
}

/**
 * The entries of the archive open as `fh` (`total` bytes), in order, with extended headers applied
 * and consumed. ErrTarInvalid for a bad checksum or record, data past the end of the file, or an
 * archive that ends without its end-of-archive block (a truncated copy).
 */
export async function* indexTar(fh: FileHandle, total: number): AsyncGenerator<IndexedEntry> {
  let offset = 0;
  const pending: Pending = {};
  for (let count = 0; ; count++) {
    if (count > MAX_ENTRIES) throw new ErrTarInvalid(`more than ${MAX_ENTRIES} tar entries`);
    if (offset + BLOCK > total) throw new ErrTarInvalid('the archive ends without its end-of-archive block (truncated?)');
    const block = await readAt(fh, BLOCK, offset);
    if (isZeroBlock(block)) {
      if (hasPending(pending)) throw new ErrTarInvalid('an extended header at the end of the archive has no entry');
      return;
    }
    let h;
    try {
      h = decodeHeader(block);
    } catch (err) {
      throw new ErrTarInvalid(`the tar header at byte ${offset} has ${(err as Error).message}`, err);
    }
    const dataStart = offset + BLOCK;
    if (isExtended(h.type)) {
      if (h.size > MAX_EXTENDED) throw new ErrTarInvalid(`the extended header at byte ${offset} is over ${MAX_EXTENDED} bytes`);
      if (dataStart + h.size > total) throw new ErrTarInvalid(`the extended header at byte ${offset} runs past the end of the file`);
      absorb(pending, h.type, await readAt(fh, h.size, dataStart));
      offset = dataStart + pad(h.size);
      continue;
    }
    const e = applyPending(pending, h);
    if (dataStart + e.size > total) throw new ErrTarInvalid(`the entry ${JSON.stringify(e.name)} at byte ${offset} runs past the end of the file (truncated?)`);
    yield { name: e.name, linkname: e.linkname, type: e.type, offset: dataStart, size: e.size, header: offset };
    offset = dataStart + pad(e.size);
  }
}
