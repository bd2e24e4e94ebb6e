// Level 0 of format v1: deflate stored blocks written by us, byte for byte what native/core/stored.cc
// writes, so both engines produce identical output at level 0 (docs/DESIGN.md).

/** Largest payload of one stored block (LEN is a u16). */
export const STORED_MAX = 65535;

/** Bytes storedBlocks() will produce for a unit of `length` bytes. */
export function storedSize(length: number, final: boolean): number {
  const blocks = Math.ceil(length / STORED_MAX) || (final ? 1 : 0);
  return blocks * 5 + length;
}

/**
 * Encodes one unit (a full input block, or the final remainder when `final`) as stored blocks.
 * A non-final empty unit encodes to nothing; a final empty unit is the single block 01 00 00 ff ff.
 */
export function storedBlocks(data: Uint8Array, final: boolean): Uint8Array {
  const out = new Uint8Array(storedSize(data.length, final));
  if (out.length === 0) return out;
  let src = 0;
  let dst = 0;
  do {
    const len = Math.min(STORED_MAX, data.length - src);
    const last = src + len === data.length;
    out[dst] = final && last ? 1 : 0;
    out[dst + 1] = len & 0xff;
    out[dst + 2] = len >>> 8;
    out[dst + 3] = ~len & 0xff;
    out[dst + 4] = (~len >>> 8) & 0xff;
    out.set(data.subarray(src, src + len), dst + 5);
    src += len;
    dst += 5 + len;
  } while (src < data.length);
  return out;
}
