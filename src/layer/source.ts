// Turns every supported layer source into one pull interface, so the Layer reads only when its
// consumer wants data (backpressure) and can stop any source the same way.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { isUint8Array } from 'node:util/types';
import { ErrInvalidSource } from '../core/errors.js';
import { FileReader, FileSource } from './file-source.js';
import { BytesReader, IterableReader, WebReader, type ChunkReader } from './readers.js';
import { isAdoptableReadStream, ReadStreamReader } from './read-stream-source.js';

export type { ChunkReader } from './readers.js';

/** What `new Layer(source)` accepts. */
export type LayerSource =
  | Readable
  | NodeJS.ReadableStream
  | AsyncIterable<Uint8Array>
  | WebReadableStream<Uint8Array>
  | ReadableStream<Uint8Array>
  | Uint8Array;

type Kind = 'bytes' | 'file' | 'readable' | 'web' | 'iterable';

function kindOf(source: unknown): Kind | undefined {
  if (isUint8Array(source)) return 'bytes';
  if (typeof source !== 'object' || source === null) return undefined;
  if (source instanceof FileSource) return 'file';
  const s = source as Record<PropertyKey, unknown>;
  if (source instanceof Readable || (typeof s.pipe === 'function' && typeof s.read === 'function' &&
      typeof s.destroy === 'function' && typeof s[Symbol.asyncIterator] === 'function')) {
    return 'readable';
  }
  if (typeof s.getReader === 'function' && typeof s.cancel === 'function') return 'web';
  if (typeof s[Symbol.asyncIterator] === 'function') return 'iterable';
  return undefined;
}

/** Throws ErrInvalidSource (a TypeError) unless `source` is usable as a layer source. */
export function checkSource(source: unknown): void {
  const kind = kindOf(source);
  if (kind === undefined) throw new ErrInvalidSource(source);
  if (kind === 'web' && (source as WebReadableStream).locked) {
    throw new ErrInvalidSource(source, 'the web ReadableStream is locked to another reader');
  }
}

/** Opens a source already accepted by checkSource(). Nothing is read until next() is called. */
export function openSource(source: LayerSource): ChunkReader {
  switch (kindOf(source)) {
    case 'bytes':
      return new BytesReader(source as Uint8Array);
    case 'file':
      return new FileReader(source as unknown as FileSource);
    case 'readable':
      if (isAdoptableReadStream(source)) return new ReadStreamReader(source);
      return new IterableReader(source as AsyncIterable<unknown>, source as Readable);
    case 'web':
      return new WebReader(source as WebReadableStream<unknown>);
    case 'iterable':
      return new IterableReader(source as AsyncIterable<unknown>);
    default:
      throw new ErrInvalidSource(source);
  }
}
