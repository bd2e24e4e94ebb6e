// Several streaming layers at once into a destination that takes one blob at a time, in order (an
// archive: one tar, and a blob's place depends on the sizes of those before it). The layer at the
// head of the order streams straight into the destination, as it always did; the next `lanes - 1`
// streaming layers are compressed at the same time into spool files, each written into the
// destination in its turn, when every blob before it is. The destination sees the same blobs in
// the same order as with one lane: its bytes do not change. Spool files hold compressed bytes only
// (at most `lanes - 1` layers on disk, in a private directory under os.tmpdir()); memory per layer is
// what a layer in flight always takes. The first failure aborts the layers in flight, and every
// spool file and the directory are removed before it is rethrown.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ErrLayerSpool } from './errors.js';
import type { Blob, KnownBlob } from './types.js';
import type { ThreadBudget } from '../engine/budget.js';
import { capThreads, layerDescriptor, type Layer } from '../layer/layer.js';

export interface Spooled {
  /** The spool file as a known blob: its descriptor is the layer's, checked again as it is read. */
  blob: KnownBlob;
  diffID: string;
}

const ignore = (): void => {};

/** Runs `fn` with threads for `layer` from the budget (at most `share`), capped on the layer. */
export async function withThreads<T>(layer: Layer, budget: ThreadBudget, share: number, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const grant = await budget.acquire(Math.min(layer.threads, share), signal);
  try {
    capThreads(layer, grant.threads);
    return await fn();
  } finally {
    grant.release();
  }
}

/** A signal that aborts with `outer` or when `abort` is called, whichever comes first. */
export function linkedAbort(outer: AbortSignal | undefined): { signal: AbortSignal; abort(reason: unknown): void; dispose(): void } {
  const inner = new AbortController();
  const follow = (): void => inner.abort(outer!.reason);
  if (outer?.aborted) follow();
  else outer?.addEventListener('abort', follow, { once: true });
  return {
    signal: inner.signal,
    abort: (reason) => inner.abort(reason),
    dispose: () => outer?.removeEventListener('abort', follow),
  };
}

async function spoolLayer(layer: Layer, path: string, signal: AbortSignal): Promise<Spooled> {
  try {
    await pipeline(layer.compressed(), createWriteStream(path, { flags: 'wx', mode: 0o600 }), { signal });
  } catch (err) {
    // The layer's own failure (a tree that cannot be read, an abort) is the cause to report.
    const cause = await layer.done.then(() => err, (e: unknown) => e);
    if (cause === err && !signal.aborted && (err as NodeJS.ErrnoException).syscall !== undefined) {
      throw new ErrLayerSpool(`cannot spool a layer to ${path}: ${(err as Error).message}`, err);
    }
    throw cause;
  }
  const v = await layer.done;
  const descriptor = layerDescriptor(v);
  return { blob: { kind: 'known', descriptor, open: () => createReadStream(path) }, diffID: v.diffID.toString() };
}

export interface InOrder<T> {
  /** Writes task `i` itself (a known blob, or the head layer streamed straight in). */
  direct(i: number, signal: AbortSignal): Promise<T>;
  /** Writes the spool of streaming task `i`. */
  spooled(i: number, spool: Spooled, signal: AbortSignal): Promise<T>;
}

/**
 * Writes `tasks` one at a time in their order, with up to `lanes - 1` streaming layers after the
 * current one compressed ahead into spool files, each under threads of `budget` (at most `share`).
 */
export async function writeInOrder<T>(tasks: readonly Blob[], lanes: number, budget: ThreadBudget, share: number, outer: AbortSignal | undefined, write: InOrder<T>): Promise<T[]> {
  const link = linkedAbort(outer);
  const spools = new Map<number, Promise<Spooled>>();
  const paths = new Map<number, string>();
  let dir: Promise<string> | undefined;
  const results: T[] = [];
  const spool = (i: number, layer: Layer): Promise<Spooled> =>
    withThreads(layer, budget, share, link.signal, async () => {
      dir ??= mkdtemp(join(tmpdir(), 'fastlayer-spool-')).catch((err: unknown) => {
        throw new ErrLayerSpool(`cannot make a spool directory under ${tmpdir()}: ${(err as Error).message}`, err);
      });
      const path = join(await dir, `layer-${i}`);
      paths.set(i, path);
      return spoolLayer(layer, path, link.signal);
    });
  try {
    for (let i = 0; i < tasks.length; i++) {
      const own = spools.get(i);
      // The head asks for its threads before the layers behind it do.
      const writing = own ? own.then((s) => write.spooled(i, s, link.signal)) : write.direct(i, link.signal);
      for (let j = i + 1; j < tasks.length && j < i + lanes; j++) {
        const t = tasks[j]!;
        if (t.kind !== 'streaming' || spools.has(j)) continue;
        const p = spool(j, t.layer);
        p.catch(ignore); // awaited in its turn; a failure meanwhile aborts the rest below
        p.catch((err: unknown) => link.abort(err));
        spools.set(j, p);
      }
      results.push(await writing);
      spools.delete(i);
      if (own) await unlink(paths.get(i)!).catch(ignore);
    }
    return results;
  } catch (err) {
    // The first failure aborted the others: theirs (an AbortError) is not the one to report.
    const cause: unknown = link.signal.aborted ? link.signal.reason : err;
    link.abort(err);
    throw cause;
  } finally {
    await Promise.allSettled(spools.values());
    const made = await dir?.catch(() => undefined);
    if (made) await rm(made, { recursive: true, force: true }).catch(ignore);
    link.dispose();
  }
}
