// `fastlayer inspect`'s summary of the eStargz layers of an image (a layer whose descriptor has the
// TOC digest annotation): read from the blob's footer and TOC only (file offsets in a layout or
// archive, HTTP Range requests in a registry), the TOC checked against the annotation.
import { ESTARGZ_TOC_DIGEST_ANNOTATION } from '../core/media-types.js';
import { readToc } from '../estargz/reader.js';
import type { Descriptor } from '../image/types.js';

export interface EstargzLayerSummary {
  /** The layer's digest. */
  layer: string;
  /** TOC entries (every tar entry but the root, chunks of large files included). */
  entries: number;
  /** Regular files. */
  files: number;
  /** Chunks of file data, each a gzip member of its own. */
  chunks: number;
  landmark: 'prefetch' | 'no-prefetch' | 'none';
  tocDigest: string;
  tocOffset: number;
}

/** Reads `length` bytes of the blob `d` from `offset`. */
export type BlobRangeReader = (d: Descriptor, offset: number, length: number) => Promise<Buffer>;

/** The summaries of the layers that say they are eStargz, in layer order; none: an empty list. */
export async function estargzSummaries(layers: readonly Descriptor[], read: BlobRangeReader): Promise<EstargzLayerSummary[]> {
  const out: EstargzLayerSummary[] = [];
  for (const d of layers) {
    const tocDigest = d.annotations?.[ESTARGZ_TOC_DIGEST_ANNOTATION];
    if (typeof tocDigest !== 'string') continue;
    const s = await readToc((offset, length) => read(d, offset, length), d.size, tocDigest);
    out.push({ layer: d.digest, entries: s.toc.entries.length, files: s.files, chunks: s.chunks, landmark: s.landmark, tocDigest: s.tocDigest, tocOffset: s.tocOffset });
  }
  return out;
}

/** The text line under a layer's line. */
export function summaryLine(s: EstargzLayerSummary): string {
  return `    estargz: ${s.entries} TOC entries, ${s.files} files, ${s.chunks} chunks, landmark ${s.landmark}, TOC ${s.tocDigest}`;
}
