// Reading an eStargz blob's TOC back from its footer: what `fastlayer inspect` summarises and what
// the tests check a written blob against. Only the last 51 bytes and the TOC member are read.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ErrEstargzInvalid } from './errors.js';
import { FOOTER_SIZE, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_NAME, parseFooter, type Toc } from './toc.js';

/** A TOC larger than this is refused rather than inflated (upstream caps it likewise). */
const MAX_TOC = 64 * 1024 * 1024;

export interface TocSummary {
  tocOffset: number;
  toc: Toc;
  /** 'sha256:...' of the TOC's JSON bytes: what the `containerd.io/snapshot/stargz/toc.digest` annotation names. */
  tocDigest: string;
  files: number;
  chunks: number;
  landmark: 'prefetch' | 'no-prefetch' | 'none';
}

/**
 * The TOC of a blob of `size` bytes, read through `read(offset, length)`: the footer, then the TOC
 * member. With `tocDigest` (a descriptor's annotation), a TOC of another digest is ErrEstargzInvalid.
 */
export async function readToc(read: (offset: number, length: number) => Promise<Buffer>, size: number, tocDigest?: string): Promise<TocSummary> {
  if (size < FOOTER_SIZE) throw new ErrEstargzInvalid(`${size} bytes is shorter than the footer`);
  const tocOffset = parseFooter(await read(size - FOOTER_SIZE, FOOTER_SIZE));
  const length = size - FOOTER_SIZE - tocOffset;
  if (length <= 0 || length > MAX_TOC) throw new ErrEstargzInvalid(`the TOC offset ${tocOffset} is outside the blob`);
  // Read outside the try: a failure of `read` (a registry's, a file's) keeps its own error and code.
  const member = await read(tocOffset, length);
  let tar: Buffer;
  try {
    tar = gunzipSync(member, { maxOutputLength: MAX_TOC });
  } catch (err) {
    throw new ErrEstargzInvalid(`the TOC member does not inflate: ${(err as Error).message}`, err);
  }
  const name = tar.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
  if (tar.length < 512 || name !== TOC_NAME) throw new ErrEstargzInvalid(`the TOC member holds ${JSON.stringify(name)}, not ${TOC_NAME}`);
  const jsonSize = parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
  if (!Number.isSafeInteger(jsonSize) || 512 + jsonSize > tar.length) throw new ErrEstargzInvalid('the TOC entry size is out of range');
  const json = tar.subarray(512, 512 + jsonSize);
  // Checked before the JSON is parsed: a TOC the descriptor does not name is not read further.
  const digest = `sha256:${createHash('sha256').update(json).digest('hex')}`;
  if (tocDigest !== undefined && digest !== tocDigest) throw new ErrEstargzInvalid(`the TOC's digest is ${digest}, the layer's annotation names ${tocDigest}`);
  let toc: Toc;
  try {
    toc = JSON.parse(json.toString('utf8')) as Toc;
  } catch (err) {
    throw new ErrEstargzInvalid(`the TOC is not JSON: ${(err as Error).message}`, err);
  }
  if (toc === null || typeof toc !== 'object' || toc.version !== 1 || !Array.isArray(toc.entries)) throw new ErrEstargzInvalid('the TOC is not version 1 with entries');
  const names = new Set(toc.entries.map((e) => e?.name));
  return {
    tocOffset, toc, tocDigest: digest,
    files: toc.entries.filter((e) => e?.type === 'reg').length,
    chunks: toc.entries.filter((e) => e?.type === 'reg' || e?.type === 'chunk').filter((e) => e.chunkDigest !== undefined).length,
    landmark: names.has(PREFETCH_LANDMARK) ? 'prefetch' : names.has(NO_PREFETCH_LANDMARK) ? 'no-prefetch' : 'none',
  };
}
