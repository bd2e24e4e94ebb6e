// Sizes the input of each engine call. A call has a fixed cost (a threadpool round trip for the
// native engine), so each one carries about MAX_UPDATE bytes: a list of the source's own chunks,
// passed as views without copying. Only really small chunks are copied, into a staging buffer, so
// a source yielding tiny pieces does not turn into thousands of views. MAX_UPDATE also bounds the
// output of a single call, and so memory, whatever the source yields.
import { ErrChunkDetached } from '../core/errors.js';
import type { ChunkReader } from './readers.js';

/** Chunks shorter than this are copied into the staging buffer instead of being passed as views. */
export const SMALL_CHUNK = 4 * 1024;
/** Input bytes of one engine update; also the size of a staging buffer. A multiple of BLOCK_SIZE. */
export const MAX_UPDATE = 1024 * 1024;

/**
 * Yielded by a reader (FeedSource) for a flush point: the input gathered so far goes to the engine
 * as it is, followed by a flush (flushes()). Compared by identity; never a chunk of a source.
 */
export const FLUSH_POINT: Uint8Array = new Uint8Array(0);

export class Coalescer {
  private pending: Uint8Array | undefined;
  // A view's length drops to 0 when its buffer is detached: the rest of a chunk taken in two calls
  // is checked against this, so a transfer meanwhile fails the layer instead of shortening its input.
  private pendingLength = 0;
  // Two staging buffers, used by turns: the list returned by one call may still be in the engine
  // while the next call gathers the following one.
  private readonly stages: [Buffer | undefined, Buffer | undefined] = [undefined, undefined];
  private turn = 0;
  // Bytes of each list returned, for verify().
  private readonly totals = new WeakMap<Uint8Array[], number>();
  // Lists that end at a flush point.
  private readonly flushPoints = new WeakSet<Uint8Array[]>();
  private ended = false;
  private released = false;

  /**
   * @param owned when true, staged bytes are returned as fresh copies the caller may keep (the
   * uncompressed() stream hands them to its consumer); otherwise they are views of a staging buffer,
   * valid until the second next() call after the one that returned them.
   */
  constructor(private readonly reader: ChunkReader, private readonly owned: boolean) {
    // Such a reader's chunks are MAX_UPDATE bytes, so each next() here takes exactly one of them,
    // and the engine is done with that list before the second next() after it starts reading.
    if (!owned) reader.reuseBuffers?.();
  }

  /**
   * The next engine input: a non-empty list of non-empty chunks totalling MAX_UPDATE bytes (less at
   * the end of the source or at a flush point, where it may be empty), or null once the source is
   * exhausted or release() was called.
   */
  async next(): Promise<Uint8Array[] | null> {
    const list: Uint8Array[] = [];
    let total = 0;
    // Staged bytes of this call not yet in `list`: stage[staged, fill).
    let stage: Buffer | undefined;
    let staged = 0;
    let fill = 0;
    let flush = false;
    const flushStage = () => {
      if (fill === staged) return;
      const piece = stage!.subarray(staged, fill);
      list.push(this.owned ? Buffer.from(piece) : piece);
      staged = fill;
    };
    while (total < MAX_UPDATE) {
      let chunk = this.pending;
      this.pending = undefined;
      if (chunk !== undefined && chunk.length !== this.pendingLength) throw new ErrChunkDetached();
      if (chunk === undefined) {
        if (this.ended || this.released) break;
        const read = await this.reader.next();
        if (this.released) return null;
        if (read === null) {
          this.ended = true;
          break;
        }
        if (read === FLUSH_POINT) {
          flush = true;
          break;
        }
        if (read.length === 0) continue;
        chunk = read;
      }
      const room = MAX_UPDATE - total;
      if (chunk.length > room) {
        this.pending = chunk.subarray(room);
        this.pendingLength = this.pending.length;
        chunk = chunk.subarray(0, room);
      }
      total += chunk.length;
      if (chunk.length >= SMALL_CHUNK) {
        flushStage();
        list.push(chunk);
        continue;
      }
      stage ??= this.stage();
      stage.set(chunk, fill);
      fill += chunk.length;
    }
    flushStage();
    if (stage) this.turn ^= 1;
    if (list.length === 0 && !flush) return null;
    this.totals.set(list, total);
    if (flush) this.flushPoints.add(list);
    return list;
  }

  /** Whether the engine is to flush after `list` (returned by next(), possibly empty). */
  flushes(list: Uint8Array[]): boolean {
    return this.flushPoints.has(list);
  }

  /**
   * Throws ErrChunkDetached when a view of `list` (returned by next()) lost its bytes since: the
   * source transferred a chunk's ArrayBuffer while the layer still held it (read ahead). Detaching
   * only ever shrinks views, so comparing the totals is enough.
   */
  verify(list: Uint8Array[]): void {
    let total = 0;
    for (const chunk of list) total += chunk.length;
    if (total !== this.totals.get(list)) throw new ErrChunkDetached();
  }

  /** Drops the staging buffers and any held chunk; a next() in progress resolves with null. */
  release(): void {
    this.released = true;
    this.pending = undefined;
    this.stages[0] = this.stages[1] = undefined;
  }

  private stage(): Buffer {
    return (this.stages[this.turn] ??= Buffer.allocUnsafe(MAX_UPDATE));
  }
}
