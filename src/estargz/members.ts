// Gzip members compressed on the engine while the writer goes on: several members in flight (each on
// its own engine, so none waits on another's setup or round trip), handed on strictly in order. Each
// member is a complete gzip stream of its bytes alone, so the blob never depends on how many run at once.
import type { EngineFactory } from '../engine/engine.js';

interface Slot {
  done: Promise<Buffer>;
  bytes: number;
}

export class MemberQueue {
  readonly #slots: Slot[] = [];
  #inFlightBytes = 0;
  /** Compressed size of every member handed on, in order (the writer's offsets). */
  readonly sizes: number[] = [];
  #count = 0;

  constructor(
    private readonly factory: EngineFactory,
    private readonly level: number,
    private readonly threads: number,
    private readonly window: number,
    private readonly maxBytes: number,
  ) {}

  /** Members queued so far: the index the next push gets. */
  get count(): number {
    return this.#count;
  }

  async #compress(parts: Buffer[]): Promise<Buffer> {
    const engine = this.factory.create({ level: this.level, compression: 'gzip', threads: this.threads });
    try {
      const head = await engine.update(parts);
      const { tail } = await engine.finish();
      return head.length === 0 ? Buffer.from(tail) : Buffer.concat([head, tail]);
    } finally {
      engine.destroy();
    }
  }

  /** Queues a member; returns the members ready to hand on (waits while too many are in flight). */
  async push(parts: Buffer[], bytes: number): Promise<Buffer[]> {
    const done = this.#compress(parts);
    // A failure is reported by whoever awaits it in order; until then it must not be unhandled.
    done.catch(() => {});
    this.#slots.push({ done, bytes });
    this.#inFlightBytes += bytes;
    this.#count++;
    const out: Buffer[] = [];
    while (this.#slots.length > this.window || (this.#inFlightBytes > this.maxBytes && this.#slots.length > 1)) out.push(await this.#shift());
    return out;
  }

  async #shift(): Promise<Buffer> {
    const slot = this.#slots.shift()!;
    this.#inFlightBytes -= slot.bytes;
    const member = await slot.done;
    this.sizes.push(member.length);
    return member;
  }

  /** Every member still in flight, in order. */
  async *drain(): AsyncGenerator<Buffer> {
    while (this.#slots.length > 0) yield await this.#shift();
  }

  /** Abandons what is in flight (their engines finish and are freed on their own). */
  abandon(): void {
    this.#slots.length = 0;
  }
}
