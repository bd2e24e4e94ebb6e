// Reading an eStargz blob's TOC back from its footer: what `fastlayer inspect` summarises and what
// the tests check a written blob against. Only the last 51 bytes and the TOC member are read.
import { gunzipSync } from 'node:zlib';
import { ErrEstargzInvalid } from './errors.js';
import { FOOTER_SIZE, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_NAME, parseFooter, type Toc } from './toc.js';

/** A TOC larger than this is refused rather than inflated (upstream caps it likewise). */
const MAX_TOC = 64 * 1024 * 1024;

export interface TocSummary {
  tocOffset: number;
  toc: Toc;
  files: number;
  chunks: number;
  landmark: 'prefetch' | 'no-prefetch' | 'none';
}

/** The TOC of a blob of `size` bytes, read through `read(offset, length)`. */
export async function readToc(read: (offset: number, length: number) => Promise<Buffer>, size: number): Promise<TocSummary> {
  if (size < FOOTER_SIZE) throw new ErrEstargzInvalid(`${size} bytes is shorter than the footer`);
  const tocOffset = parseFooter(await read(size - FOOTER_SIZE, FOOTER_SIZE));
  const length = size - FOOTER_SIZE - tocOffset;
  if (length <= 0 || length > MAX_TOC) throw new ErrEstargzInvalid(`the TOC offset ${tocOffset} is outside the blob`);
  let tar: Buffer;
  try {
    tar = gunzipSync(await read(tocOffset, length), { maxOutputLength: MAX_TOC });
  } catch (err) {
    throw new ErrEstargzInvalid(`the TOC member does not inflate: ${(err as Error).message}`, err);
  }
  const name = tar.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
  if (tar.length < 512 || name !== TOC_NAME) throw new ErrEstargzInvalid(`the TOC member holds ${JSON.stringify(name)}, not ${TOC_NAME}`);
  const jsonSize = parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
  if (!Number.isSafeInteger(jsonSize) || 512 + jsonSize > tar.length) throw new ErrEstargzInvalid('the TOC entry size is out of range');
  let toc: Toc;
  try {
    toc = JSON.parse(tar.subarray(512, 512 + jsonSize).toString('utf8')) as Toc;
  } catch (err) {
    throw new ErrEstargzInvalid(`the TOC is not JSON: ${(err as Error).message}`, err);
  }
  if (toc === null || typeof toc !== 'object' || toc.version !== 1 || !Array.isArray(toc.entries)) throw new ErrEstargzInvalid('the TOC is not version 1 with entries');
  const names = new Set(toc.entries.map((e) => e?.name));
  return {
    tocOffset, toc,
    files: toc.entries.filter((e) => e?.type === 'reg').length,
    chunks: toc.entries.filter((e) => e?.type === 'reg' || e?.type === 'chunk').filter((e) => e.chunkDigest !== undefined).length,
    landmark: names.has(PREFETCH_LANDMARK) ? 'prefetch' : names.has(NO_PREFETCH_LANDMARK) ? 'no-prefetch' : 'none',
  };
}
