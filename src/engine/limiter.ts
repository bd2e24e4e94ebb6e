// A process-wide cap on native engine calls in flight. Every update()/finish() of the addon occupies
// a libuv threadpool thread for its whole duration, and fs, dns, zlib and crypto requests queue
// (FIFO) behind whatever holds the pool: with 64 busy layers an fs.stat waited seconds. Keeping one
// thread free for everyone else bounds their wait to about one request, whatever the layer count.

const MAX_THREADPOOL_SIZE = 1024;
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/**
 * Threads in libuv's pool, read from UV_THREADPOOL_SIZE exactly as libuv's threadpool.c does:
 * `nthreads = atoi(val)` into an unsigned int, then 0 becomes 1 and anything above 1024 becomes 1024;
 * 4 when the variable is unset. atoi() is strtol() (64-bit long here) truncated to int: leading
 * white space and a sign are accepted, parsing stops at the first non-digit, no digits give 0. So
 * '0', 'abc' and '' mean 1 thread, '8abc' and '  8' mean 8, and a negative number wraps around to
 * a huge unsigned value: 1024. (Checked against the threads Node really starts, on Linux.)
 */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.UV_THREADPOOL_SIZE;
  if (value === undefined) return 4;
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]*)/.exec(value)!;
  let n = m[2] === '' ? 0n : BigInt(m[2]!);
  if (m[1] === '-') n = -n;
  if (n > LONG_MAX) n = LONG_MAX;
  if (n < LONG_MIN) n = LONG_MIN;
  const threads = BigInt.asUintN(32, BigInt.asIntN(32, n)); // long -> int -> unsigned int
  if (threads === 0n) return 1;
  return threads > BigInt(MAX_THREADPOOL_SIZE) ? MAX_THREADPOOL_SIZE : Number(threads);
}

/** Calls allowed in flight: all threads but one, and at least one (a pool of 1 is then shared). */
export function nativeCallLimit(env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, threadpoolSize(env) - 1);
}

interface Waiter {
  start(): void;
  fail(reason: unknown): void;
}

/** A queued or running call: its result, and a way to drop it while it is still queued. */
export interface Ticket<T> {
  readonly result: Promise<T>;
  /** Rejects the call with `reason` if it has not started yet (true); a started call runs on (false). */
  cancel(reason: unknown): boolean;
}

export class Limiter {
  private running = 0;
  // Insertion-ordered, so FIFO, with O(1) removal of a cancelled waiter.
  private readonly queue = new Set<Waiter>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer >= 1, got ${capacity}`);
  }

  /** Calls in flight and waiting, for tests and diagnostics. */
  get stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.size };
  }

  /** Calls that would start at once now: the free slots, or 0 while calls are waiting. */
  get room(): number {
    return this.queue.size > 0 ? 0 : this.capacity - this.running;
  }

  /**
   * Runs `call` once fewer than `capacity` calls are in flight, after every call queued before it.
   * The slot is released when the promise `call` returns settles, or when `call` throws.
   */
  run<T>(call: () => Promise<T>): Ticket<T> {
    let resolve!: (value: T) => void;
    let reject!: (reason: unknown) => void;
    const result = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: Waiter = {
      start: () => {
        this.running++;
        let pending: Promise<T>;
        try {
          pending = call();
        } catch (err) {
          pending = Promise.reject(err);
        }
        const release = () => {
          this.running--;
          this.next();
        };
        pending.then(
          (value) => {
            release();
            resolve(value);
          },
          (err: unknown) => {
            release();
            reject(err);
          },
        );
      },
      fail: reject,
    };
    if (this.running < this.capacity && this.queue.size === 0) waiter.start();
    else this.queue.add(waiter);
    return {
      result,
      cancel: (reason) => {
        if (!this.queue.delete(waiter)) return false;
        waiter.fail(reason);
        return true;
      },
    };
  }

  private next(): void {
    while (this.running < this.capacity) {
      const first = this.queue.values().next();
      if (first.done) return;
      this.queue.delete(first.value);
      first.value.start();
    }
  }
}
