// The native engine: the addon's Pipeline (ISA-L / zlib / stored blocks, SHA-256 and CRC-32 in C++ on
// the libuv threadpool, one call per update however many chunks it carries) behind the Engine
// interface. Undefined when the addon does not load; src/engine/engines.ts then offers the js engine only.
// Calls of all engines share one Limiter, so they never take the whole libuv threadpool.
import type { Engine, EngineFactory, EngineInput, EngineOptions, EngineResult } from './engine.js';
import { ErrEngineState } from '../core/errors.js';
import { ZSTD_FRAME_SIZE } from './format.js';
import { Limiter, nativeCallLimit, type Ticket } from './limiter.js';
import { loadNative, type NativeAddon, type NativeMemberDigests, type NativePipeline, type NativeStats } from './native.js';

const MODE_GZIP = 0;
const MODE_NONE = 1;
const MODE_ZSTD = 2;

let limiter: Limiter | undefined;

/** Created at the first call, when libuv reads UV_THREADPOOL_SIZE too. */
function calls(): Limiter {
  return (limiter ??= new Limiter(nativeCallLimit()));
}

/** Native calls in flight and queued across the process (tests and diagnostics). */
export function nativeCallStats(): { capacity: number; running: number; queued: number } {
  const l = calls();
  return { capacity: l.capacity, ...l.stats };
}

/** The same error as the addon's for a call that a destroy() overtook. */
function destroyedWhileQueued(): Error {
  return Object.assign(new Error('fastlayer: the pipeline was destroyed while this call was queued'), {
    code: 'ERR_FASTLAYER_DESTROYED',
  });
}

/**
 * Bytes per readFile() call on one thread. Each call's round trip (the worker's result to the main
 * thread, the next call back to a worker) left a lone thread idle, about a tenth of its time at 1
 * MiB per call on 2 vCPUs; four times fewer calls won that back (a tenth less CPU too). Now the next
 * read is queued behind the one in flight (readAhead), and 2, 4 and 8 MiB measured the same; 4 MiB
 * also keeps the calls' fixed costs low. The addon still reads and compresses a call in 1 MiB
 * pieces, so its input buffer stays 1 MiB (two of them with a read queued). With helpers the round
 * trip overlaps their work: 1 MiB, as measured no slower.
 */
export const ONE_THREAD_READ_LENGTH = 4 * 1024 * 1024;

class NativeEngine implements Engine {
  private readonly pipeline: NativePipeline;
  readonly readLength: number | undefined;
  // Whether this pipeline may queue its next read at all (one thread, an addon that can).
  private readonly canReadAhead: boolean;
  private state: 'open' | 'finished' | 'destroyed' = 'open';
  // The calls of this engine waiting for a slot or running: one, or two when a read is queued
  // behind another (readAhead).
  private readonly tickets = new Set<Ticket<unknown>>();

  constructor(addon: NativeAddon, options: EngineOptions) {
    // The addon validates level and mode itself (TypeError/RangeError with ERR_INVALID_ARG_TYPE /
    // ERR_OUT_OF_RANGE) and refuses levels 1-2 on CPUs where ISA-L would give other bytes
    // (ERR_FASTLAYER_UNSUPPORTED_CPU).
    const mode = options.compression === 'none' ? MODE_NONE : options.compression === 'zstd' ? MODE_ZSTD : MODE_GZIP;
    this.pipeline = new addon.Pipeline(options.level, mode, options.threads ?? 1);
    // The core decides whether the pipeline gets helpers (`threads` 1 never; 'none' and gzip level 0
    // never either: copying is all they do) and the addon says so from construction. An addon too
    // old to say gets the default length, which is slower on one thread but gives the same bytes.
    const oneThread = this.pipeline.stats?.().hashThreads === false;
    this.readLength = oneThread ? ONE_THREAD_READ_LENGTH : undefined;
    // On one thread the pipeline idles while each result goes to JavaScript and the next call comes
    // back: the next read is queued behind the one in flight instead (addon_call_order.h). With
    // helpers that round trip overlaps their work.
    this.canReadAhead = oneThread && addon.info.queuedReads === true;
  }

  /**
   * Asked before each read. A queued read holds a slot of the process's native calls (and a libuv
   * thread) while it waits for the read before it, so it is made only while slots are to spare: with
   * other layers' calls waiting, or too few slots for this read and the next, it would keep them
   * from work (two one-thread layers on three slots: 10% of the slot time spent waiting).
   */
  get readAhead(): boolean {
    return this.canReadAhead && calls().room >= 2;
  }

  async update(input: EngineInput): Promise<Uint8Array> {
    this.checkOpen();
    return this.limited(() => this.pipeline.update(input));
  }

  async readFile(fd: number, position: number, length: number, continues = false): Promise<{ output: Uint8Array; bytesRead: number }> {
    this.checkOpen();
    const { out, bytesRead } = await this.limited(() =>
      continues ? this.pipeline.readFile(fd, position, length, true) : this.pipeline.readFile(fd, position, length));
    return { output: out, bytesRead };
  }

  async flush(): Promise<Uint8Array> {
    this.checkOpen();
    const pipeline = this.pipeline;
    // The stream forms check nativeFlushes() before accepting a flush point: only a direct caller of
    // an older addon gets here.
    if (pipeline.flush === undefined) {
      throw Object.assign(new Error('fastlayer: this native addon was built before flush points: rebuild it'), {
        code: 'ERR_NOT_SUPPORTED',
      });
    }
    return this.limited(() => pipeline.flush!());
  }

  async finish(): Promise<EngineResult> {
    this.checkOpen();
    this.state = 'finished';
    const { out, digest, diffID, size } = await this.limited(() => this.pipeline.finish());
    return { tail: out, digest: digest.toString('hex'), diffID: diffID.toString('hex'), size };
  }

  /** Per-thread work counts and per-stage seconds so far (undefined from an older addon). */
  stats(): NativeStats | undefined {
    return this.pipeline.stats?.();
  }

  // Outputs made while the consumer is behind are reported to V8 as larger (native/addon/addon_output.h):
  // it then collects the Buffers the consumer has let go of sooner, at no cost in speed, since the
  // layer waits for the consumer anyway.
  consumerSlow(slow: boolean): void {
    if (this.state !== 'destroyed') this.pipeline.setConsumerSlow?.(slow);
  }

  destroy(): void {
    if (this.state === 'destroyed') return;
    this.state = 'destroyed';
    // A queued call never starts; one already running is rejected by the addon when it completes.
    for (const ticket of this.tickets) ticket.cancel(destroyedWhileQueued());
    this.pipeline.destroy();
  }

  private limited<T>(call: () => Promise<T>): Promise<T> {
    const ticket = calls().run(call);
    this.tickets.add(ticket);
    const clear = () => {
      this.tickets.delete(ticket);
    };
    ticket.result.then(clear, clear);
    return ticket.result;
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new ErrEngineState(this.state);
  }
}

function makeFactory(addon: NativeAddon): EngineFactory {
  const { info } = addon;
  // Per level, whether this CPU gives the reference bytes: asked once of the addon itself.
  const levels = new Map<number, boolean>();
  const supports = ({ level, compression }: EngineOptions): boolean => {
    if (compression === 'none') return true;
    // zstd has no CPU-dependent bytes; an addon built before zstd existed has no info.zstd.
    if (compression === 'zstd') return info.zstd !== undefined && info.zstdFrameSize === ZSTD_FRAME_SIZE;
    let ok = levels.get(level);
    if (ok === undefined) {
      try {
        new addon.Pipeline(level, MODE_GZIP).destroy();
        ok = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_FASTLAYER_UNSUPPORTED_CPU') throw err;
        ok = false;
      }
      levels.set(level, ok);
    }
    return ok;
  };
  return {
    supports,
    name: 'native',
    details: Object.freeze({
      isal: info.isal,
      zlib: info.zlib,
      ...(info.zstd === undefined ? {} : { zstd: info.zstd }),
      sha256: info.sha256,
      fingerprint: info.fingerprint,
      format: String(info.format),
      blockSize: String(info.blockSize),
    }),
    create: (options: EngineOptions): Engine => new NativeEngine(addon, options),
  };
}

const { addon } = loadNative();

export const nativeEngine: EngineFactory | undefined = addon ? makeFactory(addon) : undefined;

/** The addon's gzipMembers behind the shared call limit, or undefined when the addon lacks it. */
export function nativeGzipMembers(): NativeAddon['gzipMembers'] {
  const fn = addon?.gzipMembers;
  if (fn === undefined) return undefined;
  return (level, views, sizes, threads, hashLengths, stream, fileMarks) =>
    calls().run(() => fn.call(addon, level, views, sizes, threads, hashLengths, stream, fileMarks)).result;
}

/** Whether gzipMembers takes file marks (the digests of files of several members). */
export function nativeMembersFiles(): boolean {
  return addon?.gzipMembersFiles === true;
}

/** A new running diffID/blob hash for gzipMembers calls, or undefined when the addon lacks it. */
export function nativeMemberDigests(): NativeMemberDigests | undefined {
  const C = addon?.MemberDigests;
  return C === undefined ? undefined : new C();
}

/** Whether the loaded addon has flush points (addons built before them, e.g. an old prebuild, do not). */
export function nativeFlushes(): boolean {
  return typeof (addon?.Pipeline.prototype as Partial<NativePipeline> | undefined)?.flush === 'function';
}
