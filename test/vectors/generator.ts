// Deterministic inputs of the vector table; a byte-for-byte mirror of fuzz/gen.h, documented in
// test/vectors/README.md. Change all three together (and regenerate vectors.json).

/** mulberry32: tiny, well distributed, identical in C++ (uint32 arithmetic) and here (Math.imul). */
export class Mulberry32 {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}

const WORDS = [
  'the', 'layer', 'image', 'container', 'digest', 'stream', 'block', 'deflate',
  'usr', 'lib', 'share', 'doc', 'copyright', 'license', 'version', 'package',
  'a', 'of', 'and', 'to', 'in', 'is', 'for', 'with',
  'return', 'const', 'static', 'void', 'include', 'define', '0x00', 'README',
];

/** Appends into a preallocated buffer; `pos` is where the next byte goes. */
class Sink {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
}

function random(seed: number, n: number, s: Sink): void {
  const rng = new Mulberry32(seed);
  const end = s.pos + n;
  while (s.pos < end) {
    const r = rng.next();
    for (let i = 0; i < 4 && s.pos < end; i++) s.buf[s.pos++] = (r >>> (8 * i)) & 0xff;
  }
}

function text(seed: number, n: number, s: Sink): void {
  const rng = new Mulberry32(seed);
  const end = s.pos + n;
  const put = (word: string): void => {
    for (let i = 0; i < word.length && s.pos < end; i++) s.buf[s.pos++] = word.charCodeAt(i);
  };
  while (s.pos < end) {
    const r = rng.next();
    put(WORDS[r & 31]!);
    const sep = (r >>> 5) & 15;
    put(sep === 0 ? '\n' : sep === 1 ? '. ' : sep === 2 ? ', ' : ' ');
    if (((r >>> 9) & 15) === 0) put(`${r >>> 13} `);
  }
}

function mixed(seed: number, n: number, s: Sink): void {
  const rng = new Mulberry32(seed);
  const start = s.pos;
  const end = start + n;
  while (s.pos < end) {
    const room = end - s.pos;
    const kind = rng.next() & 3;
    if (kind === 0) {
      s.pos += Math.min(rng.next() % 4096, room); // zeros: the buffer starts zeroed
    } else if (kind === 1) {
      const sub = rng.next();
      text(sub, Math.min(rng.next() % 32768, room), s);
    } else if (kind === 2) {
      const sub = rng.next();
      random(sub, Math.min(rng.next() % 8192, room), s);
    } else {
      const have = s.pos - start;
      const dist = 1 + (rng.next() % Math.max(1, Math.min(have, 65536)));
      const len = Math.min(rng.next() % 1024, room);
      if (have === 0) continue;
      for (let i = 0; i < len; i++, s.pos++) s.buf[s.pos] = s.buf[s.pos - dist]!;
    }
  }
}

export type InputKind = 'random' | 'text' | 'mixed' | 'zeros';

/** The input named by (kind, seed, size) in test/vectors/vectors.json. */
export function generate(kind: InputKind, seed: number, size: number): Uint8Array {
  const sink = new Sink(new Uint8Array(size));
  if (kind === 'random') random(seed, size, sink);
  else if (kind === 'text') text(seed, size, sink);
  else if (kind === 'mixed') mixed(seed, size, sink);
  else if (kind !== 'zeros') throw new RangeError(`unknown input kind ${String(kind)}`);
  return sink.buf;
}
