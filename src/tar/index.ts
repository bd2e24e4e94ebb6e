// Walks the headers of a tar archive in a file and reports where each entry's data lies, without
// reading the data: the one archive indexer of the project (image bases, pushed layouts, inspect).
// Every header goes through header.ts's decoder; PAX 'x' records (path, linkpath, size) and GNU 'L'/'K'
// long names apply to the entry that follows, as Go's archive/tar, GNU tar and Python apply them, so
// an entry over 8 GiB written with a PAX size record (Go, Python) is found where those tools find it.
import type { FileHandle } from 'node:fs/promises';
import { ErrTarInvalid } from './errors.js';
import { BLOCK, decodeHeader, decodePax, isZeroBlock } from './header.js';

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

/** Extended headers are names and a few numbers: anything bigger is not a real archive. */
const MAX_EXTENDED = 1024 * 1024;
const MAX_ENTRIES = 1_000_000;
/** Types whose header never has data after it, whatever the size field says (as Go reads them). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

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

function paxSize(value: string, at: number): number {
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new ErrTarInvalid(`the PAX size record of the entry at byte ${at} is not a size: ${JSON.stringify(value)}`);
  return n;
}

/**
 * The entries of the archive open as `fh` (`total` bytes), in order, with extended headers applied
 * and consumed. ErrTarInvalid for a bad checksum or record, data past the end of the file, or an
 * archive that ends without its end-of-archive block (a truncated copy).
 */
export async function* indexTar(fh: FileHandle, total: number): AsyncGenerator<IndexedEntry> {
  let offset = 0;
  let pax: Map<string, string> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (let count = 0; ; count++) {
    if (count > MAX_ENTRIES) throw new ErrTarInvalid(`more than ${MAX_ENTRIES} tar entries`);
    if (offset + BLOCK > total) throw new ErrTarInvalid('the archive ends without its end-of-archive block (truncated?)');
    const block = await readAt(fh, BLOCK, offset);
    if (isZeroBlock(block)) {
      if (pax || longName !== undefined || longLink !== undefined) throw new ErrTarInvalid(`an extended header at the end of the archive has no entry`);
      return;
    }
    let h;
    try {
      h = decodeHeader(block);
    } catch (err) {
      throw new ErrTarInvalid(`the tar header at byte ${offset} has ${(err as Error).message}`, err);
    }
    const dataStart = offset + BLOCK;
    if (h.type === 'x' || h.type === 'g' || h.type === 'L' || h.type === 'K') {
      if (h.size > MAX_EXTENDED) throw new ErrTarInvalid(`the extended header at byte ${offset} is over ${MAX_EXTENDED} bytes`);
      if (dataStart + h.size > total) throw new ErrTarInvalid(`the extended header at byte ${offset} runs past the end of the file`);
      const data = await readAt(fh, h.size, dataStart);
      if (h.type === 'x') pax = decodePax(data);
      // Global records are checked but not applied: a global path or size would rename or resize
      // every later entry; Go and tar-stream do not apply them either.
      else if (h.type === 'g') decodePax(data);
      else {
        const text = data.toString('utf8').replace(/\0.*$/s, '');
        if (h.type === 'L') longName = text;
        else longLink = text;
      }
      offset = dataStart + pad(h.size);
      continue;
    }
    const name = pax?.get('path') ?? longName ?? h.name;
    const linkname = pax?.get('linkpath') ?? longLink ?? h.linkname;
    const sizeRecord = pax?.get('size');
    let size = sizeRecord === undefined ? h.size : paxSize(sizeRecord, offset);
    if (HEADER_ONLY.has(h.type)) size = 0;
    if (dataStart + size > total) throw new ErrTarInvalid(`the entry ${JSON.stringify(name)} at byte ${offset} runs past the end of the file (truncated?)`);
    yield { name, linkname, type: h.type, offset: dataStart, size, header: offset };
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    offset = dataStart + pad(size);
  }
}
