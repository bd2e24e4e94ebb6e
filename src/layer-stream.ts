// The single pass behind Layer.compressed() and Layer.uncompressed(): a Readable that pulls from the
// source only when its consumer wants data, drives the engine strictly sequentially, and pushes
// either the engine output or the input itself.
import { Readable } from 'node:stream';
import type { Engine, EngineResult } from './engine.js';
import { Coalescer } from './coalesce.js';
import type { ChunkReader } from './source.js';
import { ErrDestroyed } from './errors.js';

export type StreamKind = 'compressed' | 'uncompressed';

export interface StreamHooks {
  /** Called with the final values right before the end of the stream is pushed. */
  complete(result: EngineResult): void;
  /** Called once when the stream is destroyed before completing (error, abort or early destroy). */
  fail(cause: unknown): void;
}

// Lets the engine work on the next chunk while the consumer is still busy with the previous one,
// without buffering more than about a MiB of output.
const HIGH_WATER_MARK = 1024 * 1024;

export class LayerStream extends Readable {
  private readonly coalescer: Coalescer;
  private wanted = false;
  private running = false;
  private completed = false;

  constructor(
    private readonly reader: ChunkReader,
    private readonly engine: Engine,
    private readonly kind: StreamKind,
    private readonly hooks: StreamHooks,
  ) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.coalescer = new Coalescer(reader, kind === 'uncompressed');
  }

  override _read(): void {
    this.wanted = true;
    if (!this.running && !this.completed) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.wanted && !this.destroyed) {
        const input = await this.coalescer.next();
        if (this.destroyed) return;
        if (input === null) return await this.finish();
        const output = await this.engine.update(input);
        if (this.destroyed) return;
        const piece = this.kind === 'compressed' ? output : input;
        if (piece.length > 0) this.wanted = this.push(piece);
      }
    } catch (err) {
      if (!this.destroyed) this.destroy(err as Error);
    } finally {
      this.running = false;
    }
  }

  private async finish(): Promise<void> {
    const result = await this.engine.finish();
    if (this.destroyed) return;
    this.completed = true;
    if (this.kind === 'compressed' && result.tail.length > 0) this.push(result.tail);
    this.hooks.complete(result);
    this.push(null);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.reader.close();
    this.engine.destroy();
    this.coalescer.release();
    if (!this.completed) this.hooks.fail(err ?? new ErrDestroyed());
    callback(err);
  }
}
