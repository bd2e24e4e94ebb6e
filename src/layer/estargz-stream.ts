// The single pass of a Layer with compression 'estargz': its source (a tar) goes through the eStargz
// writer (src/estargz/writer.ts) instead of an engine; the writer compresses its members on the
// engine's threads itself. The Layer keeps one set of rules for sources, options, abort and values.
import type { Readable } from 'node:stream';
import { estargzLayerOf, type EstargzResult } from '../estargz/writer.js';
import type { EngineName } from '../engine/engine.js';
import type { ChunkReader } from './readers.js';
import type { ResolvedEstargzLayerOptions } from './options.js';

export interface EstargzStreamOptions extends ResolvedEstargzLayerOptions {
  level: number;
  threads: number;
  engine: EngineName | undefined;
}

/** The reader's chunks as the writer takes them; the reader is closed when the writer stops reading. */
async function* chunks(reader: ChunkReader): AsyncGenerator<Uint8Array> {
  try {
    for (let c = await reader.next(); c !== null; c = await reader.next()) yield c;
  } finally {
    reader.close();
  }
}

/**
 * The eStargz blob of `reader`'s tar. `complete` gets the writer's values before the stream ends;
 * `fail` gets the cause when it fails or is destroyed first. The source is closed either way.
 */
export function estargzStream(reader: ChunkReader, o: EstargzStreamOptions, complete: (r: EstargzResult) => void, fail: (cause: unknown) => void): Readable {
  // The reader's own chunks (a file it reads, tarDirectory's stream) are kept without a copy.
  const layer = estargzLayerOf(chunks(reader), {
    compressionLevel: o.level, chunkSize: o.chunkSize, prioritize: o.prioritize, prioritizeBuffer: o.prioritizeBuffer,
    threads: o.threads, ...(o.engine === undefined ? {} : { engine: o.engine }),
  }, () => reader.freshChunks?.() === true);
  layer.done.then(complete, fail);
  // A stream destroyed while the writer waits on its source must still let the source go.
  layer.stream.once('close', () => reader.close());
  return layer.stream;
}
