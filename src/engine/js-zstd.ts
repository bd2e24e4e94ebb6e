// The js engine's zstd (docs/ZSTD.md): the native framing (frames of ZSTD_FRAME_SIZE input bytes,
// each a complete zstd frame with a checksum and no content size) on node:zlib's own libzstd, which
// Node has from 22.15 and 23.8. Node bundles another libzstd version than the addon links, so the
// frames decode to the same input but their bytes differ between the engines (as gzip levels 1-9 do).
import * as zlib from 'node:zlib';
import { isUint8Array } from 'node:util/types';
import type { Engine, EngineInput, EngineOptions, EngineResult } from './engine.js';
import { ErrEngineState, ErrEngineUnavailable } from '../core/errors.js';
import { ZSTD_FRAME_SIZE } from './format.js';
import { Tally } from './tally.js';

type ZstdCompress = (buffer: Uint8Array, options: object, callback: (err: Error | null, out: Buffer) => void) => void;

/** node:zlib's zstdCompress, or undefined on runtimes without it (Node 20, Node 22 before 22.15). */
function zstdCompressFunction(): ZstdCompress | undefined {
  const f = (zlib as unknown as { zstdCompress?: ZstdCompress }).zstdCompress;
  const c = zlib.constants as unknown as Record<string, number | undefined>;
  return typeof f === 'function' && c.ZSTD_c_compressionLevel !== undefined ? f : undefined;
}

/** Why the js engine cannot write zstd here, or undefined when it can. */
export function jsZstdUnavailableReason(): string | undefined {
  if (zstdCompressFunction()) return undefined;
  return `node:zlib has no zstd in Node ${process.version} (it needs Node >= 22.15 or >= 23.8)`;
}

/** libzstd version node:zlib uses, when it has zstd. */
export const nodeZstdVersion: string | undefined = zstdCompressFunction()
  ? (process.versions as Record<string, string | undefined>).zstd
  : undefined;

function compressFrame(compress: ZstdCompress, data: Uint8Array, level: number): Promise<Uint8Array> {
  const c = zlib.constants as unknown as Record<string, number>;
  const params = {
    [c.ZSTD_c_compressionLevel!]: level,
    [c.ZSTD_c_checksumFlag!]: 1,
    [c.ZSTD_c_contentSizeFlag!]: 0,
    [c.ZSTD_c_nbWorkers!]: 0,
    // ZSTD_ps_disable: the native engine pins it off too.
    [c.ZSTD_c_enableLongDistanceMatching!]: 2,
  };
  return new Promise((resolve, reject) => {
    // The length is pledged so libzstd picks its parameters for this frame's size, as the native
    // engine's one-shot compression does.
    compress(data, { params, pledgedSrcSize: data.length }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

export class JsZstdEngine implements Engine {
  private readonly compress: ZstdCompress;
  private readonly level: number;
  private readonly threads: number;
  private readonly tally = new Tally();
  // The frame being filled (allocated on demand, at most ZSTD_FRAME_SIZE bytes).
  private frame: Buffer | undefined;
  private fill = 0;
  private state: 'open' | 'finished' | 'destroyed' = 'open';

  constructor(options: EngineOptions) {
    const compress = zstdCompressFunction();
    if (!compress) throw new ErrEngineUnavailable('js', jsZstdUnavailableReason()!);
    this.compress = compress;
    this.level = options.level;
    this.threads = options.threads ?? 4;
  }

  async update(input: EngineInput): Promise<Uint8Array> {
    this.checkOpen();
    const chunks = isUint8Array(input) ? [input] : input;
    const full: Uint8Array[] = [];
    for (const chunk of chunks) {
      this.tally.input(chunk);
      let pos = 0;
      while (pos < chunk.length) {
        // Always copied: the caller may reuse its chunk once this promise settles, and the frames
        // gathered here are compressed `threads` at a time.
        this.frame ??= Buffer.allocUnsafe(ZSTD_FRAME_SIZE);
        const take = Math.min(ZSTD_FRAME_SIZE - this.fill, chunk.length - pos);
        this.frame.set(chunk.subarray(pos, pos + take), this.fill);
        this.fill += take;
        pos += take;
        if (this.fill === ZSTD_FRAME_SIZE) {
          full.push(this.frame);
          this.frame = undefined;
          this.fill = 0;
        }
      }
    }
    const parts: Uint8Array[] = [];
    for (let i = 0; i < full.length; i += this.threads) {
      const outs = await Promise.all(full.slice(i, i + this.threads).map((f) => compressFrame(this.compress, f, this.level)));
      this.checkOpen();
      parts.push(...outs);
    }
    return this.produce(parts);
  }

  async finish(): Promise<EngineResult> {
    this.checkOpen();
    this.state = 'finished';
    const parts: Uint8Array[] = [];
    // An empty input still gets one (empty) frame; input that filled its last frame exactly has none.
    if (this.fill > 0 || this.tally.inLength === 0) {
      const rest = this.frame ? this.frame.subarray(0, this.fill) : new Uint8Array(0);
      parts.push(await compressFrame(this.compress, rest, this.level));
    }
    const tail = this.produce(parts);
    this.frame = undefined;
    return this.tally.result(tail);
  }

  destroy(): void {
    this.state = 'destroyed';
    this.frame = undefined;
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new ErrEngineState(this.state);
  }

  private produce(parts: Uint8Array[]): Uint8Array {
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.tally.output(out);
    return out;
  }
}
