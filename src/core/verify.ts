// The one check of blob bytes against the descriptor that announced them, made while they stream
// (containerd's content.VerifyReader, go-containerregistry's verify.ReadCloser do the same): every
// reader of a layout, an archive or a registry, and every destination that writes a known blob, uses
// it. The size is checked on each chunk, so a longer body fails at its first extra byte; the last
// chunk is held back until the digest matched, so a consumer never sees the complete bytes of a blob
// that turns out not to be it (an upload cannot complete with them, a file cannot be named).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ErrDigestMismatch } from './errors.js';

/** What the bytes must be: a descriptor's digest (`sha256:<hex>`) and size. */
export interface Expected {
  readonly digest: string;
  readonly size: number;
}

/** Why the bytes are not the descriptor's: more than its size, or all read and a wrong size or digest. */
export type Mismatch =
  | { readonly kind: 'longer'; readonly expected: Expected; readonly seen: number }
  | { readonly kind: 'different'; readonly expected: Expected; readonly seen: number; readonly digest: string };

export interface VerifyOptions {
  /** What the bytes are, for the default error's message (`blob sha256:... from REG/repo`). */
  what?: string;
  /** The error to raise instead of ErrDigestMismatch (a registry upload raises its own). */
  mismatch?: (m: Mismatch) => Error;
  /** Called with each chunk's length as it is handed on (after the check that holds it back). */
  onBytes?: (n: number) => void;
}

function defaultMismatch(what: string): (m: Mismatch) => Error {
  return (m) => {
    const want = `${m.expected.digest} (${m.expected.size} bytes)`;
    const got = m.kind === 'longer' ? `more than ${m.expected.size} bytes` : `${m.digest} (${m.seen} bytes)`;
    return new ErrDigestMismatch(want, got, what);
  };
}

/** Yields the chunks of `source` once checked against `expected`; throws the mismatch error otherwise. */
export async function* verifyBytes(source: AsyncIterable<Uint8Array>, expected: Expected, options: VerifyOptions = {}): AsyncGenerator<Uint8Array> {
  const fail = options.mismatch ?? defaultMismatch(options.what ?? 'blob');
  const onBytes = options.onBytes;
  const hash = createHash('sha256');
  let seen = 0;
  let held: Uint8Array | undefined;
  for await (const chunk of source) {
    seen += chunk.byteLength;
    if (seen > expected.size) throw fail({ kind: 'longer', expected, seen });
    hash.update(chunk);
    if (held) {
      onBytes?.(held.byteLength);
      yield held;
    }
    held = chunk;
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (seen !== expected.size || digest !== expected.digest) throw fail({ kind: 'different', expected, seen, digest });
  if (held) {
    onBytes?.(held.byteLength);
    yield held;
  }
}

/** verifyBytes as a byte stream (what KnownBlob.open returns). */
export function verifiedStream(source: AsyncIterable<Uint8Array>, expected: Expected, options: VerifyOptions = {}, highWaterMark = 1024 * 1024): Readable {
  return Readable.from(verifyBytes(source, expected, options), { objectMode: false, highWaterMark });
}
