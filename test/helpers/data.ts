// Deterministic test inputs, so a failure reproduces byte for byte.
import { createCipheriv } from 'node:crypto';

/** Pseudo-random (incompressible) bytes from AES-128-CTR over zeros, seeded. */
export function randomBytes(length: number, seed = 1): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0, 0);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

const WORDS = (
  'layer image tar gzip digest diffid size registry manifest blob config docker oci stream block ' +
  'window dictionary deflate inflate huffman literal length distance the of and to in is for with'
).split(' ');

/**
 * Text-like data with some random runs: compresses to roughly a third, and differently at every
 * level, so level and framing mistakes show up in the output bytes.
 */
export function semiCompressible(length: number, seed = 7): Buffer {
  const out = Buffer.allocUnsafe(length);
  const noise = randomBytes(length, seed);
  let x = seed * 2654435761 >>> 0 || 1;
  let pos = 0;
  while (pos < length) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    if ((x & 31) === 0) {
      const n = Math.min(length - pos, 16 + (x >>> 27));
      noise.copy(out, pos, pos, pos + n);
      pos += n;
    } else {
      const word = WORDS[(x >>> 8) % WORDS.length]!;
      pos += out.write(`${word}${(x & 7) === 1 ? '\n' : ' '}`, pos, 'latin1');
    }
  }
  return out;
}

/** Cuts `data` into chunks of `size` bytes (the last one shorter), as views. */
export function cut(data: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return chunks;
}

/** An async generator yielding `data` in chunks of `size` bytes. */
export async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
