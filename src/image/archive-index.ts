// Random access into a tar archive (an OCI archive or a docker-save archive used as a base image):
// tar-stream parses the entries (names, sizes, types); this module records where each regular
// file's data starts (walking the header blocks, cross-checked with tar-stream's own offset; links
// inside the archive resolve to their target's data, links out of it are refused), so a blob can be read again later straight from the file (a byte range), as a
// known blob must be. Names are checked: absolute paths, `..` and empty components are refused.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { extract } from 'tar-stream';
import { ErrBaseImage, ErrUnsafeArchivePath } from './errors.js';

export interface ArchiveEntry {
  /** Offset of the data in the archive file. */
  offset: number;
  size: number;
}

const BLOCK = 512;
const pad = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** `./a/b` -> `a/b`; refuses what could resolve outside the archive's root. */
export function safeName(archive: string, name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  if (n.endsWith('/')) n = n.slice(0, -1);
  const parts = n.split('/');
  if (n === '' || name.startsWith('/') || name.includes('\0') || parts.some((p) => p === '..' || p === '' || p === '.')) {
    throw new ErrUnsafeArchivePath(archive, name);
  }
  return n;
}

function parseOctal(block: Buffer, offset: number, width: number): number {
  if (block[offset]! & 0x80) {
    let v = 0;
    for (let i = offset + 1; i < offset + width; i++) v = v * 256 + block[i]!;
    return v;
  }
  const s = block.toString('ascii', offset, offset + width).replace(/[\0 ]+$/, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** Indexes the regular files of `archive`: name -> data offset and size. */
export async function indexArchive(archive: string): Promise<Map<string, ArchiveEntry>> {
  const entries = new Map<string, ArchiveEntry>();
  // docker save (before 25) and skopeo's docker-archive link repeated layers to one file.
  const links = new Map<string, string>();
  const fd = openSync(archive, 'r');
  const block = Buffer.alloc(BLOCK);
  let pos = 0;
  // The data offset tar-stream does not report: walk the header blocks from the end of the previous
  // entry, past PAX/GNU long-name headers, to this entry's own header, and check it is the same entry.
  const locate = (size: number): number => {
    for (let guard = 0; guard < 64; guard++) {
      if (readSync(fd, block, 0, BLOCK, pos) !== BLOCK) break;
      const type = String.fromCharCode(block[156]!);
      const blockSize = parseOctal(block, 124, 12);
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        pos += BLOCK + pad(blockSize);
        continue;
      }
      if (blockSize !== size) break;
      const at = pos + BLOCK;
      pos = at + pad(size);
      return at;
    }
    throw new ErrBaseImage(`${archive}: cannot locate an entry's data (unsupported tar layout)`);
  };
  try {
    const ex = extract();
    const input = createReadStream(archive);
    const done = new Promise<void>((resolve, reject) => {
      ex.on('entry', (header, stream, next) => {
        try {
          const size = header.size ?? 0;
          const offset = locate(size);
          // tar-stream 3 also reports the data offset (undocumented): both readings must agree.
          const reported = (header as { byteOffset?: unknown }).byteOffset;
          if (typeof reported === 'number' && reported !== offset) throw new ErrBaseImage(`${archive}: entry ${JSON.stringify(header.name)} is not where its headers say`);
          if (header.type === 'file' || header.type === 'contiguous-file') {
            const name = safeName(archive, header.name);
            if (entries.has(name)) throw new ErrBaseImage(`${archive}: entry ${JSON.stringify(name)} appears twice`);
            entries.set(name, { offset, size });
          } else if (header.type === 'directory') {
            // `tar -C dir .` starts with the root itself.
            if (header.name !== '.' && header.name !== './') safeName(archive, header.name);
          } else if (header.type === 'symlink' || header.type === 'link') {
            const name = safeName(archive, header.name);
            const target = header.linkname ?? '';
            if (target.startsWith('/')) throw new ErrUnsafeArchivePath(archive, target);
            const resolved = header.type === 'link' ? target : posix.normalize(posix.join(posix.dirname(name), target));
            if (resolved === '..' || resolved.startsWith('../')) throw new ErrUnsafeArchivePath(archive, `${name} -> ${target}`);
            links.set(name, safeName(archive, resolved));
          } else if ((header.type as string) !== 'pax-global-header') {
            throw new ErrBaseImage(`${archive}: unexpected ${header.type} entry ${JSON.stringify(header.name)} in an image archive`);
          }
        } catch (err) {
          // The entry stream is torn down with the extractor: its error is this one, reported once.
          stream.on('error', () => undefined);
          input.destroy();
          ex.destroy(err as Error);
          return;
        }
        stream.on('end', next);
        stream.resume();
      });
      ex.on('finish', resolve);
      ex.on('close', resolve);
      ex.on('error', reject);
    });
    input.on('error', (err) => ex.destroy(err));
    input.pipe(ex);
    await done;
  } catch (err) {
    if (err instanceof ErrBaseImage || err instanceof ErrUnsafeArchivePath) throw err;
    throw new ErrBaseImage(`${archive}: not a readable tar archive: ${(err as Error).message}`, err);
  } finally {
    closeSync(fd);
  }
  for (const [name, first] of links) {
    let target = first;
    for (let hops = 0; !entries.has(target); hops++) {
      const next = links.get(target);
      if (next === undefined || hops > 16) throw new ErrBaseImage(`${archive}: link ${JSON.stringify(name)} does not lead to a file in the archive`);
      target = next;
    }
    if (!entries.has(name)) entries.set(name, entries.get(target)!);
  }
  return entries;
}
