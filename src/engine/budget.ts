// One process-wide budget of compression threads, shared by every layer in flight. A layer takes its
// threads when its engine starts and gives them back when it ends, so that N layers at once never
// ask the machine for more threads than it has (docs/ENGINES.md, "Thread budget"). A layer gets the
// threads it asks for, or fewer when fewer are free, and waits only when none is: a layer with one
// thread makes progress, a layer waiting for sixteen would not.
import { availableParallelism } from 'node:os';
import { ErrOptionRange } from '../core/errors.js';

/** Upper bound of the budget, and of what FASTLAYER_THREADS may say. */
export const MAX_BUDGET = 64;

/** Threads one layer was given; release() is idempotent. */
export interface ThreadGrant {
  readonly threads: number;
  release(): void;
}

interface Waiter {
  want: number;
  grant(threads: number): void;
}

export interface BudgetStats {
  capacity: number;
  /** Threads held now. */
  inUse: number;
  /** Most threads ever held at once (never above capacity). */
  peakInUse: number;
  /** Grants held now, and the most ever held at once: layers compressing at the same time. */
  holders: number;
  peakHolders: number;
  /** Layers waiting for a thread. */
  waiting: number;
}

export class ThreadBudget {
  #inUse = 0;
  #peakInUse = 0;
  #holders = 0;
  #peakHolders = 0;
  // Insertion-ordered: first come, first served, with O(1) removal of a cancelled waiter.
  readonly #queue = new Set<Waiter>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BUDGET) throw new RangeError(`capacity must be an integer from 1 to ${MAX_BUDGET}, got ${capacity}`);
  }

  get stats(): BudgetStats {
    return { capacity: this.capacity, inUse: this.#inUse, peakInUse: this.#peakInUse, holders: this.#holders, peakHolders: this.#peakHolders, waiting: this.#queue.size };
  }

  /** Starts the peak counters again from what is held now (tests measure one build). */
  resetPeaks(): void {
    this.#peakInUse = this.#inUse;
    this.#peakHolders = this.#holders;
  }

  /**
   * Between 1 and `want` threads (want is capped at the capacity): as many as are free once the
   * layers queued before this one were served. Rejects with the signal's reason if it aborts first.
   */
  acquire(want: number, signal?: AbortSignal): Promise<ThreadGrant> {
    const asked = Math.max(1, Math.min(this.capacity, Math.floor(want) || 1));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#queue.size === 0 && this.#inUse < this.capacity) return Promise.resolve(this.#take(asked));
    return new Promise<ThreadGrant>((resolve, reject) => {
      const onAbort = (): void => {
        this.#queue.delete(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        want: asked,
        grant: (threads) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#grant(threads));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.add(waiter);
    });
  }

  /**
   * Never waits: between 1 and `want` of the threads free now, or undefined when none is (or layers
   * are queued for them). For a layer that nothing schedules (a standalone Layer): its reader may be
   * waiting on another layer that holds the threads, so waiting here could deadlock.
   */
  tryAcquire(want: number): ThreadGrant | undefined {
    const asked = Math.max(1, Math.min(this.capacity, Math.floor(want) || 1));
    if (this.#queue.size > 0 || this.#inUse >= this.capacity) return undefined;
    return this.#take(asked);
  }

  #take(want: number): ThreadGrant {
    return this.#grant(Math.min(want, this.capacity - this.#inUse));
  }

  #grant(threads: number): ThreadGrant {
    this.#inUse += threads;
    this.#holders++;
    this.#peakInUse = Math.max(this.#peakInUse, this.#inUse);
    this.#peakHolders = Math.max(this.#peakHolders, this.#holders);
    let held = true;
    return {
      threads,
      release: () => {
        if (!held) return;
        held = false;
        this.#inUse -= threads;
        this.#holders--;
        this.#next();
      },
    };
  }

  #next(): void {
    while (this.#inUse < this.capacity) {
      const first = this.#queue.values().next();
      if (first.done) return;
      this.#queue.delete(first.value);
      first.value.grant(Math.min(first.value.want, this.capacity - this.#inUse));
    }
  }
}

/**
 * FASTLAYER_THREADS (1 to 64), or undefined when it is unset or empty; ErrOptionRange for another
 * value. One number says how many cores fastlayer may use: it sizes the budget and is a layer's
 * default `threads` (layer/options.ts), and this is where it is read for both.
 */
export function envThreads(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const value = env.FASTLAYER_THREADS;
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 1 || n > MAX_BUDGET) {
    throw new ErrOptionRange('FASTLAYER_THREADS (environment variable)', `an integer from 1 to ${MAX_BUDGET} or empty`, value);
  }
  return n;
}

/** The budget's size: FASTLAYER_THREADS when set, else the available cores, capped at 64. */
export function budgetCapacity(env: NodeJS.ProcessEnv = process.env): number {
  return envThreads(env) ?? Math.max(1, Math.min(MAX_BUDGET, availableParallelism()));
}

let current: ThreadBudget | undefined;

/** The process's budget, made on first use from budgetCapacity(). */
export function threadBudget(): ThreadBudget {
  current ??= new ThreadBudget(budgetCapacity());
  return current;
}

/**
 * Replaces the process's budget (tests measure one build on a budget of their own); returns the one
 * it replaced. Grants of the old budget are still released into it.
 */
export function setThreadBudget(budget: ThreadBudget): ThreadBudget {
  const old = threadBudget();
  current = budget;
  return old;
}
