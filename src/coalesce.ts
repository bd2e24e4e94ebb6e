// Sizes the chunks handed to the engine. Each engine call has a fixed cost (a threadpool hop for the
// native engine), so small source chunks are copied together into one staging buffer; big chunks
// are passed through as views, cut so that one call never holds more than MAX_UPDATE bytes, which
// keeps the output of a single call (and so memory) bounded whatever the source yields.
import type { ChunkReader } from './source.js';

/** Chunks shorter than this are copied into the staging buffer. */
export const SMALL_CHUNK = 64 * 1024;
/** Largest input of one engine update; also the staging buffer size. A multiple of BLOCK_SIZE. */
export const MAX_UPDATE = 1024 * 1024;

export class Coalescer {
  private pending: Uint8Array | undefined;
  private stage: Buffer | undefined;
  private ended = false;

  /**
   * @param owned when true, staged chunks are returned as fresh copies the caller may keep (the
   * uncompressed() stream hands them to its consumer); otherwise the staging buffer is reused and
   * a returned chunk is valid only until the next call.
   */
  constructor(private readonly reader: ChunkReader, private readonly owned: boolean) {}

  /** The next engine input (never empty), or null once the source is exhausted. */
  async next(): Promise<Uint8Array | null> {
    let fill = 0;
    for (;;) {
      let chunk = this.pending;
      this.pending = undefined;
      if (chunk === undefined) {
        if (this.ended) break;
        const read = await this.reader.next();
        if (read === null) {
          this.ended = true;
          break;
        }
        if (read.length === 0) continue;
        chunk = read;
      }
      if (chunk.length >= SMALL_CHUNK) {
        if (fill > 0) {
          this.pending = chunk;
          break;
        }
        if (chunk.length > MAX_UPDATE) this.pending = chunk.subarray(MAX_UPDATE);
        return chunk.length > MAX_UPDATE ? chunk.subarray(0, MAX_UPDATE) : chunk;
      }
      if (fill + chunk.length > MAX_UPDATE) {
        this.pending = chunk;
        break;
      }
      this.stage ??= Buffer.allocUnsafe(MAX_UPDATE);
      this.stage.set(chunk, fill);
      fill += chunk.length;
      // Waiting for one more small chunk could not fill much more; hand this over now.
      if (fill > MAX_UPDATE - SMALL_CHUNK) break;
    }
    if (fill === 0) return null;
    const staged = this.stage!.subarray(0, fill);
    return this.owned ? Buffer.from(staged) : staged;
  }

  /** Drops the staging buffer and any held chunk. */
  release(): void {
    this.pending = undefined;
    this.stage = undefined;
  }
}
