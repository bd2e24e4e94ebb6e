// The descriptor annotations of an eStargz layer, from the writer's result: what a lazy snapshotter
// reads before it fetches anything (the TOC's digest, to check the TOC it reads from the blob's end).
import { ESTARGZ_TOC_DIGEST_ANNOTATION, ESTARGZ_UNCOMPRESSED_SIZE_ANNOTATION } from '../core/media-types.js';
import type { EstargzResult } from './writer.js';

/** The annotations of an eStargz layer's descriptor. */
export function estargzAnnotations(r: Pick<EstargzResult, 'tocDigest' | 'uncompressedSize'>): Record<string, string> {
  return { [ESTARGZ_TOC_DIGEST_ANNOTATION]: r.tocDigest, [ESTARGZ_UNCOMPRESSED_SIZE_ANNOTATION]: String(r.uncompressedSize) };
}
