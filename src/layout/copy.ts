// Copies one blob's bytes to a file descriptor at a position, in the chunks the source yields (never
// the whole blob in memory). A known blob is checked against its descriptor while it passes (a base
// image or a caller may lie); a streaming layer's values come from the layer itself.
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { ErrDigestMismatch } from '../core/errors.js';
import { verifyBytes } from '../core/verify.js';
import { layerDescriptor, type Blob, type Descriptor } from '../image/types.js';

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < chunk.length; ) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

export function openBlob(blob: Blob): Readable {
  return blob.kind === 'streaming' ? blob.layer.compressed() : blob.open();
}

/** Writes `blob` at `position`; resolves with its descriptor and the number of bytes written. */
export async function copyBlob(blob: Blob, fh: FileHandle, position: number, signal?: AbortSignal): Promise<Descriptor> {
  const stream = openBlob(blob);
  const onAbort = (): void => void stream.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  // A known blob passes the one check (src/core/verify.ts): a mismatch throws before its last chunk is written.
  const chunks = blob.kind === 'known' ? verifyBytes(stream, blob.descriptor) : (stream as AsyncIterable<Uint8Array>);
  let size = 0;
  try {
    if (signal?.aborted) onAbort();
    for await (const chunk of chunks) {
      await writeAll(fh, chunk, position + size);
      size += chunk.length;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
  if (blob.kind === 'known') return { ...blob.descriptor };
  const v = await blob.layer.done;
  if (v.size !== size) throw new ErrDigestMismatch(`${v.size} bytes`, `${size} bytes`, 'layer stream');
  return layerDescriptor(v);
}
