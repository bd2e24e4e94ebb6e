// CRC-32 (gzip polynomial) for the gzip trailer. node:zlib exposes zlib's own crc32 only from
// Node 20.15 / 22.2; older Node 20 releases fall back to a slicing-by-8 table in TypeScript.
import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array, value: number) => number;

let tables: Uint32Array | undefined;

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/** Table-driven CRC-32; `value` is the CRC of the bytes before `data` (0 to start). */
export function crc32Table(data: Uint8Array, value = 0): number {
  const t = (tables ??= buildTables());
  let c = ~value;
  let i = 0;
  const end8 = data.length - (data.length & 7);
  while (i < end8) {
    const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
    i += 8;
  }
  while (i < data.length) c = t[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** Which implementation crc32() uses: 'node:zlib' or 'table'. */
export const crc32Implementation: 'node:zlib' | 'table' = typeof native === 'function' ? 'node:zlib' : 'table';

/** CRC-32 of `data` continuing from `value` (the CRC of everything before it; 0 to start). */
export const crc32: Crc32Fn = native ? (data, value) => native(data, value) >>> 0 : crc32Table;
