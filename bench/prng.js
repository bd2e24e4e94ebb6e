// Seeded pseudo-random data, so every corpus and generated stream is the same on every run.
// xoshiro128** on 32-bit integers: fast in JS (no BigInt) and good enough for benchmark data.

export class Prng {
  constructor(seed) {
    // splitmix32 expands the seed so that small seeds still give well-mixed state.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = Uint32Array.of(next(), next(), next(), next());
  }

  /** Next unsigned 32-bit value. */
  u32() {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Integer in [0, n). */
  below(n) {
    return Math.floor((this.u32() / 0x100000000) * n);
  }

  /** Fills buf with random bytes, four at a time where aligned. */
  fill(buf) {
    const words = Math.floor(buf.length / 4);
    const view = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteOffset % 4 === 0 ? words : 0);
    for (let i = 0; i < view.length; i++) view[i] = this.u32();
    for (let i = view.length * 4; i < buf.length; i++) buf[i] = this.u32() & 0xff;
    return buf;
  }
}

function rotl(x, k) {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A pool of semi-compressible bytes: pseudo-words from a small vocabulary, numbers and punctuation,
 * with stretches of random bytes mixed in (roughly what a tar of text plus binaries looks like to a
 * compressor). Streams slice it at random offsets; the pool is far larger than deflate's 32 KiB
 * window, so the compressor cannot exploit the repetition.
 */
export function semiCompressiblePool(size, seed = 42) {
  const rng = new Prng(seed);
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  const vocabulary = [];
  for (let i = 0; i < 4096; i++) {
    let word = '';
    const length = 2 + rng.below(9);
    for (let j = 0; j < length; j++) word += letters[Math.min(rng.below(26), rng.below(26))];
    vocabulary.push(Buffer.from(word));
  }
  // Written in place, without temporary buffers, so building the pool leaves no garbage behind
  // (the memory benchmark measures its baseline right after).
  const pool = Buffer.allocUnsafe(size);
  const punctuation = [Buffer.from(' '), Buffer.from(', '), Buffer.from('.\n')];
  let at = 0;
  while (at < size) {
    const pick = rng.below(100);
    if (pick < 1) {
      const end = Math.min(size, at + 8 + rng.below(120));
      for (; at < end; at++) pool[at] = rng.u32() & 0xff;
    } else if (pick < 10) {
      at += pool.write(`${rng.u32()}${pick < 5 ? '\n' : ' '}`, at, 'latin1');
    } else {
      at += vocabulary[Math.min(rng.below(4096), rng.below(4096))].copy(pool, at);
      if (at < size) at += punctuation[pick < 90 ? 0 : pick < 96 ? 1 : 2].copy(pool, at);
    }
  }
  return pool;
}
