// The single pass behind Layer.compressed() and Layer.uncompressed(): a Readable that pulls from the
// source only when its consumer wants data, drives the engine strictly sequentially, and pushes
// either the engine output or the input itself. Reading and compressing overlap: while the engine
// works on one input, the next one is gathered from the source (one input of read-ahead), and the
// engine is given that input before the previous output is handed to the consumer.
import { Readable } from 'node:stream';
import type { Engine, EngineResult } from '../engine/engine.js';
import { Coalescer } from './coalesce.js';
import type { FileAccess } from './file-source.js';
import type { ChunkReader } from './source.js';
import { ErrDestroyed } from '../core/errors.js';

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

/** One engine call done: its input and what the engine produced from it. */
interface Step {
  input: Uint8Array[];
  output: Uint8Array;
  /** The output ends at a flush point the reader asked for. */
  flushed?: boolean;
}

function ignore(): void {}

// Promises stored for a later turn of the loop, which may never come (the stream is destroyed, or
// its consumer stops reading): a failure meanwhile must not become an unhandled rejection. The
// turn that awaits one still sees the failure.
function settledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(ignore);
  return promise;
}

export class LayerStream extends Readable {
  private readonly coalescer: Coalescer;
  /** The next input, gathered from the source while the engine works on the current one. */
  private readAhead: Promise<Uint8Array[] | null> | undefined;
  /** The engine call started before the previous output was pushed; null once the input ended. */
  private nextStep: Promise<Step | null> | undefined;
  /** The file the engine reads itself (undefined: not asked yet; null: the reader reads). */
  private direct: FileAccess | null | undefined;
  private wanted = false;
  private running = false;
  private completed = false;
  /** Compressed bytes pushed so far (for the reader's flush points). */
  private pushed = 0;
  /** What the engine was last told of its consumer (Engine.consumerSlow). */
  private consumerSlow = false;

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

  // At most one engine call and one input being gathered at any time, plus one finished step
  // waiting when the consumer stopped reading: a few MiB whatever the source and the consumer do.
  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.wanted && !this.destroyed) {
        const step = await (this.nextStep ?? this.step());
        this.nextStep = undefined;
        if (this.destroyed) return;
        if (step === null) return await this.finish();
        // The engine goes on with the next input (read ahead already) while this output is
        // handed to the consumer.
        this.nextStep = settledLater(this.step());
        if (this.kind === 'compressed') {
          if (step.output.length > 0) {
            this.pushed += step.output.length;
            this.wanted = this.push(step.output);
            this.tellConsumerSlow(this.readableLength > 0);
          }
          if (step.flushed) this.reader.flushed?.(this.pushed);
        } else {
          // Each piece, even when the consumer's buffer is full: the engine has already taken them.
          for (const piece of step.input) this.wanted = this.push(piece);
        }
      }
    } catch (err) {
      if (!this.destroyed) this.destroy(err as Error);
    } finally {
      this.running = false;
    }
  }

  // The consumer is behind when output is still buffered here right after a push (a consumer that
  // keeps up takes each output as it is pushed). Told only on a change: one call per switch.
  private tellConsumerSlow(slow: boolean): void {
    if (slow === this.consumerSlow) return;
    this.consumerSlow = slow;
    this.engine.consumerSlow?.(slow);
  }

  /** Takes the next input, starts reading the one after it, and runs the engine on it. */
  private async step(): Promise<Step | null> {
    if (this.direct === undefined) this.direct = await this.fileAccess();
    if (this.direct) return this.directStep(this.direct);
    const input = await (this.readAhead ?? this.coalescer.next());
    this.readAhead = undefined;
    if (input === null || this.destroyed) return null;
    this.readAhead = settledLater(this.coalescer.next());
    // Right before the engine takes (copies) the bytes: starting the read ahead may have run the
    // source, and a source that transfers a chunk it yielded must fail the layer, not shorten it.
    this.coalescer.verify(input);
    if (!this.coalescer.flushes(input)) return { input, output: await this.engine.update(input) };
    // A flush point: the input before it, then the engine's flush (none for an engine that holds no
    // input back: compression 'none'). The stream forms refuse flush() for the others up front.
    const before = input.length > 0 ? await this.engine.update(input) : new Uint8Array(0);
    if (this.destroyed) return null;
    const flushed = this.engine.flush ? await this.engine.flush() : new Uint8Array(0);
    const output = before.length === 0 ? flushed : flushed.length === 0 ? before : Buffer.concat([before, flushed]);
    return { input, output, flushed: true };
  }

  // The bytes of compressed() are only needed by the engine: one that reads files itself is spared
  // their trip through JavaScript (a read into a buffer, then a copy out of it).
  private async fileAccess(): Promise<FileAccess | null> {
    if (this.kind !== 'compressed' || !this.engine.readFile || !this.reader.fileAccess) return null;
    return (await this.reader.fileAccess()) ?? null;
  }

  private async directStep(file: FileAccess): Promise<Step | null> {
    const result = await file.readVia(
      (fd, position, length, continues) => this.engine.readFile!(fd, position, length, continues),
      this.engine.readLength,
      this.engine.readAhead === true,
    );
    if (result === null || this.destroyed) return null;
    return { input: [], output: result.output };
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
    this.readAhead = undefined;
    this.nextStep = undefined;
    if (!this.completed) this.hooks.fail(err ?? new ErrDestroyed());
    callback(err);
  }
}
