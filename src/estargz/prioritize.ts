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
  /** What holding it costs, counted against prioritizeBuffer (heldCost()). */
  cost: number;
}

/** Memory of a held entry besides its bytes: the entry's objects, its name, its Date. */
const ENTRY_COST = 512;

/**
 * The memory a held entry takes: its data and padding, its header blocks as read (a PAX header may be
 * 1 MiB: counting file data alone let 800 empty entries with such headers hold 2.4 GB under a 1 MiB
 * bound), the PAX records decoded beside them, and a fixed cost per entry.
 */
function heldCost(e: SplitEntry): number {
  let n = ENTRY_COST + e.size + pad(e.size);
  for (const r of e.raw) n += r.length;
  for (const [k, v] of Object.entries(e.pax ?? {})) n += k.length + v.length;
  return n;
}

/**
 * The held entries that `e` needs before it, taken out of `held` in their order (the tar's): the
 * directories above it and, for a hard link, its target, with what those need in turn (a link to a
 * link, the target's directories). A link moved ahead of its target cannot be unpacked ("link: no
 * such file"); a target not held was written already (or is not in the tar). Every held entry of the
 * target's name moves, so the one the link gets stays the last. A work list over the held entries by
 * name, not recursion or a scan per entry: a hostile chain of links is as long as the held entries.
 */
function takeNeeded(held: Held[], e: SplitEntry): Held[] {
  if (held.length === 0) return [];
  const byName = new Map<string, Held[]>();
  for (const h of held) {
    const same = byName.get(h.entry.name);
    if (same) same.push(h);
    else byName.set(h.entry.name, [h]);
  }
  const take = new Set<Held>();
  const todo = [e];
  const add = (name: string, directory: boolean): void => {
    for (const h of byName.get(name) ?? []) {
      if (take.has(h) || (directory && h.entry.type !== 'directory')) continue;
      take.add(h);
      todo.push(h.entry);
    }
  };
  for (let x = todo.pop(); x !== undefined; x = todo.pop()) {
    // Names are normalised (no '.', '..' or empty components): each prefix up to a '/' is a directory above.
    for (let at = x.name.lastIndexOf('/'); at > 0; at = x.name.lastIndexOf('/', at - 1)) add(x.name.slice(0, at), true);
    if (x.type === 'link' && x.linkname !== undefined) add(x.linkname, false);
  }
  if (take.size === 0) return [];
  const out = held.filter((h) => take.has(h));
  let kept = 0;
  for (const h of held) if (!take.has(h)) held[kept++] = h;
  held.length = kept;
  return out;
}

/**
 * The prioritised files first (with the directories above them that came before, and a hard link's
 * target), then every `.prefetch.landmark`, then every entry held meanwhile in its order. Reads only
 * until the last listed file is seen.
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
    if (wanted.delete(e.name)) {
      for (const d of takeNeeded(held, e)) {
        heldBytes -= d.cost;
        await from(d);
        for (const b of w.take()) yield b;
      }
      // Straight through, as after the landmark: a wanted file is never held, so one larger than
      // prioritizeBuffer (a model first in the tar) is not refused.
      const read = (n: number) => split.parts(n, e.name);
      await w.entry(e, read, read);
      for (const b of w.take()) yield b;
      continue;
    }
    // Counted before the data is read, so the bound holds for the entry that crosses it too.
    const cost = heldCost(e);
    heldBytes += cost;
    if (heldBytes > o.prioritizeBuffer) {
      throw new ErrEstargzPrioritize(`eStargz: ${[...wanted].join(', ')} not found within ${o.prioritizeBuffer} bytes of held entries (headers and data): put the prioritised files early in the tar, or raise prioritizeBuffer`);
    }
    held.push({ entry: e, data: await split.data(e.size, e.name), padding: await split.data(pad(e.size), e.name), cost });
  }
  await w.landmark(PREFETCH_LANDMARK);
  for (const b of w.take()) yield b;
  for (const h of held) {
    await from(h);
    for (const b of w.take()) yield b;
  }
}
