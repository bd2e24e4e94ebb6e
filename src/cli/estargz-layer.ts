// `fastlayer layer --compression estargz`: the layer goes through the eStargz writer (docs/ESTARGZ.md)
// instead of a Layer; the descriptor gains the two annotations a lazy snapshotter reads.
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { DOCKER_LAYER_GZIP } from '../core/media-types.js';
import { estargzLayer, type EstargzResult } from '../estargz/writer.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, type EstargzOptions } from '../estargz/options.js';
import type { LayerOptions } from '../layer/options.js';
import { integerOption, listOption, type Args } from './command.js';
import { ErrCliUsage } from './errors.js';
import type { Output } from './output.js';

export const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';
export const UNCOMPRESSED_SIZE_ANNOTATION = 'io.containers.estargz.uncompressed-size';

/** --estargz-chunk-size and --estargz-prioritize; a usage error without --compression estargz. */
export function estargzFlags(args: Args, estargz: boolean, command: string): Pick<EstargzOptions, 'chunkSize' | 'prioritize'> {
  const chunkSize = integerOption(args, 'estargz-chunk-size', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, command);
  const prioritize = listOption(args, 'estargz-prioritize');
  if (!estargz && (chunkSize !== undefined || prioritize.length > 0)) {
    throw new ErrCliUsage(`--${chunkSize !== undefined ? 'estargz-chunk-size' : 'estargz-prioritize'} needs --compression estargz`, command);
  }
  if (prioritize.some((p) => p === '' || p.split('/').includes('..'))) throw new ErrCliUsage("--estargz-prioritize needs a file path in the layer without '..'", command);
  return { ...(chunkSize === undefined ? {} : { chunkSize }), ...(prioritize.length === 0 ? {} : { prioritize }) };
}

/** The annotations of an eStargz layer's descriptor. */
export function estargzAnnotations(r: EstargzResult): Record<string, string> {
  return { [TOC_DIGEST_ANNOTATION]: r.tocDigest, [UNCOMPRESSED_SIZE_ANNOTATION]: String(r.uncompressedSize) };
}

function discardSink(): Writable {
  return new Writable({ highWaterMark: 1024 * 1024, write: (_chunk, _encoding, done) => done() });
}

/** Writes the eStargz layer of a tar source to `output` (or nowhere); returns its descriptor and values. */
export async function writeEstargzLayer(
  source: Readable | AsyncIterable<Uint8Array>,
  options: LayerOptions,
  flags: Pick<EstargzOptions, 'chunkSize' | 'prioritize'>,
  output: Output | undefined,
): Promise<{ descriptor: { mediaType: string; digest: string; size: number; diffID: string; annotations: Record<string, string> }; result: EstargzResult; seconds: number }> {
  const started = process.hrtime.bigint();
  const layer = estargzLayer(source, {
    ...flags,
    ...(options.compressionLevel === undefined ? {} : { compressionLevel: options.compressionLevel }),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  });
  await pipeline(layer.stream, output?.stream ?? discardSink());
  await output?.commit();
  const result = await layer.done;
  const descriptor = {
    mediaType: options.mediaType ?? DOCKER_LAYER_GZIP, digest: result.digest, size: result.size, diffID: result.diffID,
    annotations: estargzAnnotations(result),
  };
  return { descriptor, result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
