// The pure-TypeScript engine: format v1 (docs/DESIGN.md) on node:zlib and node:crypto. It is the
// fallback when the addon does not load, and the reference the native engine is tested against.
import * as zlib from 'node:zlib';
import { isUint8Array } from 'node:util/types';
import type { Engine, EngineFactory, EngineInput, EngineOptions, EngineResult } from './engine.js';
import { ErrEngineState } from '../core/errors.js';
import { BLOCK_SIZE, GZIP_HEADER, WINDOW_SIZE } from './format.js';
import { crc32, crc32Implementation } from './crc32.js';
import { storedBlocks } from './stored.js';
import { Tally } from './tally.js';
import { JsZstdEngine, nodeZstdVersion } from './js-zstd.js';

// Full blocks are independent once their dictionary is known (it is plain input), so up to
// `threads` of them are deflated at once on the libuv threadpool; bounded so a huge update cannot
// allocate unboundedly many zlib states.

function deflateUnit(data: Uint8Array, level: number, dictionary: Uint8Array | undefined, final: boolean) {
  if (level === 0) return Promise.resolve(storedBlocks(data, final));
  const options: zlib.ZlibOptions = {
    level,
    finishFlush: final ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
  };
  if (dictionary && dictionary.length > 0) options.dictionary = dictionary;
  return new Promise<Uint8Array>((resolve, reject) => {
    zlib.deflateRaw(data, options, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

/** The last WINDOW_SIZE bytes of `dictionary` followed by `rest`, as a copy of their own. */
function lastWindow(dictionary: Uint8Array | undefined, rest: Uint8Array): Uint8Array {
  if (rest.length >= WINDOW_SIZE) return Uint8Array.from(rest.subarray(rest.length - WINDOW_SIZE));
  const before = dictionary ?? new Uint8Array(0);
  const keep = Math.min(before.length, WINDOW_SIZE - rest.length);
  const out = new Uint8Array(keep + rest.length);
  out.set(before.subarray(before.length - keep), 0);
  out.set(rest, keep);
  return out;
}

class JsEngine implements Engine {
  private readonly level: number;
  private readonly passThrough: boolean;
  private readonly threads: number;
  private readonly tally = new Tally();
  private crc = 0;
  private headerWritten = false;
  // The partial block being filled, and spare block buffers: a block that fills up is deflated
  // asynchronously while the rest of the input is copied into another one.
  private block: Buffer | undefined;
  private spares: Buffer[] = [];
  private fill = 0;
  /** Last WINDOW_SIZE bytes of the input before the current block (undefined at the start). */
  private dictionary: Uint8Array | undefined;
  private state: 'open' | 'finished' | 'destroyed' = 'open';

  constructor(options: EngineOptions) {
    this.level = options.level;
    this.passThrough = options.compression === 'none';
    this.threads = options.threads ?? 4;
  }

  async update(input: EngineInput): Promise<Uint8Array> {
    this.checkOpen();
    const chunks = isUint8Array(input) ? [input] : input;
    for (const chunk of chunks) this.consume(chunk);
    // Copied because the caller may reuse its chunk memory once this promise settles.
    if (this.passThrough) return this.produce([Buffer.concat(chunks)]);

    const { units, filled } = this.cutBlocks(chunks);
    const parts: Uint8Array[] = [];
    if (!this.headerWritten) {
      parts.push(GZIP_HEADER);
      this.headerWritten = true;
    }
    for (let i = 0; i < units.length; i += this.threads) {
      const batch = units.slice(i, i + this.threads);
      const outs = await Promise.all(
        batch.map((unit, j) => {
          const k = i + j;
          const dict = k === 0 ? this.dictionary : units[k - 1]!.subarray(BLOCK_SIZE - WINDOW_SIZE);
          return deflateUnit(unit, this.level, dict, false);
        }),
      );
      this.checkOpen();
      parts.push(...outs);
    }
    if (units.length > 0) this.dictionary = Uint8Array.from(units[units.length - 1]!.subarray(BLOCK_SIZE - WINDOW_SIZE));
    // One spare per thread, and two at least: a large chunk fills one block per thread at a time.
    const keep = Math.max(2, this.threads);
    for (const block of filled) if (this.spares.length < keep) this.spares.push(block);
    return this.produce(parts);
  }

  async flush(): Promise<Uint8Array> {
    this.checkOpen();
    const parts: Uint8Array[] = [];
    if (!this.passThrough && this.fill > 0) {
      if (!this.headerWritten) {
        parts.push(GZIP_HEADER);
        this.headerWritten = true;
      }
      // The partial block ends like every full one (deflateUnit's sync flush, byte-aligned), and the
      // next block starts here with the input's last WINDOW_SIZE bytes as its dictionary.
      const block = this.block!;
      const rest = block.subarray(0, this.fill);
      parts.push(await deflateUnit(rest, this.level, this.dictionary, false));
      this.checkOpen();
      this.dictionary = lastWindow(this.dictionary, rest);
      this.block = undefined;
      this.fill = 0;
      if (this.spares.length < Math.max(2, this.threads)) this.spares.push(block);
    }
    return parts.length === 0 ? new Uint8Array(0) : this.produce(parts);
  }

  async finish(): Promise<EngineResult> {
    this.checkOpen();
    this.state = 'finished';
    const parts: Uint8Array[] = [];
    if (!this.passThrough) {
      if (!this.headerWritten) parts.push(GZIP_HEADER);
      const rest = this.block ? this.block.subarray(0, this.fill) : new Uint8Array(0);
      parts.push(await deflateUnit(rest, this.level, this.dictionary, true));
      const trailer = Buffer.allocUnsafe(8);
      trailer.writeUInt32LE(this.crc, 0);
      trailer.writeUInt32LE(this.tally.inLength % 0x1_0000_0000, 4);
      parts.push(trailer);
    }
    const tail = this.produce(parts);
    const result = this.tally.result(tail);
    this.release();
    return result;
  }

  destroy(): void {
    if (this.state === 'destroyed') return;
    this.state = 'destroyed';
    this.release();
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new ErrEngineState(this.state);
  }

  private consume(chunk: Uint8Array): void {
    this.tally.input(chunk);
    this.crc = crc32(chunk, this.crc);
  }

  /**
   * Splits the input stream into full blocks, all copied into block buffers of the engine's own
   * (`filled`, reusable once the units are deflated), synchronously: once update() has returned its
   * promise, the caller's chunks are never read again.
   */
  private cutBlocks(chunks: readonly Uint8Array[]): { units: Uint8Array[]; filled: Buffer[] } {
    const units: Uint8Array[] = [];
    const filled: Buffer[] = [];
    for (const chunk of chunks) {
      let pos = 0;
      if (this.fill > 0) {
        pos = Math.min(BLOCK_SIZE - this.fill, chunk.length);
        this.block!.set(chunk.subarray(0, pos), this.fill);
        this.fill += pos;
        if (this.fill < BLOCK_SIZE) continue;
        units.push(this.block!);
        filled.push(this.block!);
        this.block = undefined;
        this.fill = 0;
      }
      // Copied too, never a view of the chunk: node:zlib reads its input later, on the threadpool,
      // and a chunk whose ArrayBuffer is transferred meanwhile aborted the process there
      // (Buffer::IsWithinBounds in node_zlib.cc). The copy is cheap next to deflate.
      while (chunk.length - pos >= BLOCK_SIZE) {
        const block = this.spares.pop() ?? Buffer.allocUnsafe(BLOCK_SIZE);
        block.set(chunk.subarray(pos, pos + BLOCK_SIZE), 0);
        units.push(block);
        filled.push(block);
        pos += BLOCK_SIZE;
      }
      if (pos < chunk.length) {
        this.block ??= this.spares.pop() ?? Buffer.allocUnsafe(BLOCK_SIZE);
        this.block.set(chunk.subarray(pos), 0);
        this.fill = chunk.length - pos;
      }
    }
    return { units, filled };
  }

  private produce(parts: Uint8Array[]): Uint8Array {
    // The shared header constant is never handed out: the consumer owns (and may modify) our output.
    const out = parts.length === 1 && parts[0] !== GZIP_HEADER ? parts[0]! : Buffer.concat(parts);
    this.tally.output(out);
    return out;
  }

  private release(): void {
    this.block = undefined;
    this.spares = [];
    this.dictionary = undefined;
  }
}

export const jsEngine: EngineFactory = Object.freeze({
  name: 'js' as const,
  details: Object.freeze({
    zlib: `node:zlib ${process.versions.zlib}`,
    crc32: crc32Implementation,
    sha256: 'node:crypto',
    ...(nodeZstdVersion === undefined ? {} : { zstd: `node:zlib ${nodeZstdVersion}` }),
  }),
  create(options: EngineOptions): Engine {
    if (options.compression === 'zstd') return new JsZstdEngine(options);
    return new JsEngine(options);
  },
});
