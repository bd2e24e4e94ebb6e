// Prioritised files first: the entries before them are held in memory until the last listed file
// is seen, then written after the `.prefetch.landmark` in their order.
import { ErrEstargzPrioritize } from './errors.js';
import type { ResolvedEstargzOptions } from './options.js';
import type { SplitEntry, TarSplitter } from './tar-split.js';
import { PREFETCH_LANDMARK, checkName } from './toc.js';
import { pad } from '../tar/reader.js';

/** The next n bytes of an entry, as one or more pieces (a file's data spanning the source's chunks is not copied into one). */
export type Reader = (n: number) => Buffer[] | Promise<Buffer[]>;

/** What prioritized() writes to: the eStargz writer (writer.ts). */
export interface EntryWriter {
  entry(e: SplitEntry, read: Reader, padding: Reader): Promise<void>;
  landmark(name: string): Promise<void>;
  /** The bytes handed on since the last call. */
  take(): Buffer[];
}

interface Held {
  entry: SplitEntry;
  data: Buffer;
  padding: Buffer;
}

/**
 * The prioritised files first (with the directories above them that came before), then every
 * `.prefetch.landmark`, then every entry held meanwhile in its order. Reads only until the last listed file is seen.
 */
export async function* prioritized(w: EntryWriter, split: TarSplitter, o: ResolvedEstargzOptions): AsyncGenerator<Buffer> {
  const wanted = new Set(o.prioritize);
  const held: Held[] = [];
  let heldBytes = 0;
  const from = (h: Held) => {
    let at = 0;
    return w.entry(h.entry, (n) => [h.data.subarray(at, (at += n))], () => [h.padding]);
  };
  while (wanted.size > 0) {
    const e = await split.next();
    if (!e) break;
    checkName(e);
    heldBytes += e.size;
    if (heldBytes > o.prioritizeBuffer) {
      throw new ErrEstargzPrioritize(`eStargz: ${[...wanted].join(', ')} not found in the first ${o.prioritizeBuffer} bytes of file data: put the prioritised files early in the tar, or raise prioritizeBuffer`);
    }
    const h = { entry: e, data: await split.data(e.size, e.name), padding: await split.data(pad(e.size), e.name) };
    if (!wanted.delete(e.name)) {
      held.push(h);
      continue;
    }
    for (let i = 0; i < held.length; i++) {
      const d = held[i]!;
      if (d.entry.type === 'directory' && e.name.startsWith(`${d.entry.name}/`)) {
        held.splice(i--, 1);
        heldBytes -= d.entry.size;
        await from(d);
        for (const b of w.take()) yield b;
      }
    }
    heldBytes -= e.size;
    await from(h);
    for (const b of w.take()) yield b;
  }
  await w.landmark(PREFETCH_LANDMARK);
  for (const b of w.take()) yield b;
  for (const h of held) {
    await from(h);
    for (const b of w.take()) yield b;
  }
}
