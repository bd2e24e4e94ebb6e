// Turns the walk into tar bytes. Entries are prepared (opened, small files read) up to READ_AHEAD
// ahead of the consumer, since one at a time leaves the disk and the threadpool idle; output order
// stays the walk's. Small entries are batched into ~1 MiB chunks (one hand-off per MiB, not per
// file); large files are streamed in 4 MiB reads with two in flight (fewer threadpool hand-offs:
// the layer cuts them into its own units without copying). Memory stays bounded by
// READ_AHEAD * INLINE_FILE + BATCH + 2 reads, whatever the tree.
import type { Stats } from 'node:fs';
import { ErrTarSource } from '../core/errors.js';
import { markFresh } from '../core/fresh-chunks.js';
import { entryHeader, padding, trailer, type Entry, type EntryType } from './header.js';
import { DirRef, closeNow, openEntry, openRoot, readExactly, wrap, type Opened } from './fs-safe.js';
import { resolveTarOptions, type EntryKind, type Resolved, type TarOptions } from './options.js';
import { WHITEOUT_PREFIX, kTestHooks, virtualTree, walk, type Item, type TestHooks, type VNode } from './walker.js';
import { XattrReader } from './xattrs.js';

const CHUNK = 4 * 1024 * 1024;
const BATCH = 1024 * 1024;
/** Files up to this size are read while being prepared and emitted with their header. */
const INLINE_FILE = 128 * 1024;
const READ_AHEAD = 32;

const ignore = () => {};
type EntryItem = Extract<Item, { kind: 'entry' }>;
interface Prepared {
  opened: Opened;
  xattrs?: Map<string, Buffer> | undefined;
  /** Content of a small file (its descriptor is already closed). */
  data?: Buffer;
}

async function prepare(item: EntryItem, hooks: TestHooks, reader: XattrReader | undefined): Promise<Prepared> {
  try {
    const opened = await openEntry(item.parent, item.base, item.dtype, item.display);
    let xattrs: Prepared['xattrs'];
    if (reader) {
      try {
        xattrs = opened.kind === 'file'
          ? await reader.read(opened.fd)
          : await reader.readPath(item.parent.child(item.base), opened.st, item.display);
      } catch (err) {
        if (opened.kind === 'file') closeNow(opened.fd);
        throw err;
      }
    }
    if (opened.kind === 'file' && hooks.afterOpen) {
      try {
        await hooks.afterOpen(item.rel);
      } catch (err) {
        closeNow(opened.fd);
        throw err;
      }
    }
    if (opened.kind !== 'file' || opened.st.size > INLINE_FILE || opened.st.nlink > 1) return { opened, xattrs };
    const size = opened.st.size;
    const buf = Buffer.allocUnsafe(size + 1);
    try {
      await readExactly(opened.fd, buf, size, 0, item.display, true);
    } finally {
      closeNow(opened.fd);
    }
    return { opened, xattrs, data: buf.subarray(0, size) };
  } catch (err) {
    throw wrap(item.display, err);
  } finally {
    item.parent.release();
  }
}

function closeUnread(p: Prepared): void {
  if (p.opened.kind === 'file' && p.data === undefined) closeNow(p.opened.fd);
}

/** Streams a large file's bytes and padding; closes the descriptor once no read is in flight. */
async function* fileBody(fd: number, size: number, display: Buffer): AsyncGenerator<Buffer> {
  const reads: Promise<Buffer>[] = [];
  let pos = 0;
  const start = () => {
    const n = Math.min(CHUNK, size - pos);
    const last = pos + n === size;
    const buf = Buffer.allocUnsafe(n + (last ? 1 : 0));
    const read = readExactly(fd, buf, n, pos, display, last).then(() => buf.subarray(0, n));
    read.catch(ignore);
    reads.push(read);
    pos += n;
  };
  try {
    if (size === 0) await readExactly(fd, Buffer.allocUnsafe(1), 0, 0, display, true);
    while (pos < size && reads.length < 2) start();
    while (reads.length > 0) {
      const chunk = await reads.shift()!;
      if (pos < size) start();
      yield chunk;
    }
  } finally {
    await Promise.allSettled(reads);
    closeNow(fd);
  }
  const pad = padding(size);
  if (pad.length > 0) yield pad;
}

const mtimeOf = (st: Stats) => Math.floor(st.mtimeMs / 1000);

const WH = Buffer.from(WHITEOUT_PREFIX);

/**
 * A file or directory of the tree itself (not a marker the layer adds) whose name makes it a whiteout.
 * The directories the layer makes (virtual ones, and the mount directory named by the prefix) are
 * checked at the call instead, by virtualTree.
 */
function whiteoutNamed(item: Item): boolean {
  if (item.kind === 'entry') return item.base.subarray(0, WH.length).equals(WH);
  if (item.kind !== 'dir' || item.st === undefined || item.rel === '') return false;
  return item.rel.slice(item.rel.lastIndexOf('/') + 1).startsWith(WHITEOUT_PREFIX);
}

function kindOf(opened: Opened): { kind: EntryKind; type: EntryType } | undefined {
  const st = opened.st;
  if (opened.kind === 'file') return { kind: 'file', type: '0' };
  if (opened.kind === 'symlink') return { kind: 'symlink', type: '2' };
  if (st.isFIFO()) return { kind: 'fifo', type: '6' };
  if (st.isCharacterDevice()) return { kind: 'character-device', type: '3' };
  if (st.isBlockDevice()) return { kind: 'block-device', type: '4' };
  return undefined;
}

/** Linux's encoding of dev_t (glibc gnu_dev_major / gnu_dev_minor), for numbers up to 2^53. */
function devNumbers(rdev: number): { devmajor: number; devminor: number } {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev >>> 0;
  return {
    devmajor: ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0),
    devminor: (lo & 0xff) | (((lo >>> 12) & 0xfff00) >>> 0) | 0,
  };
}

function meta(o: Resolved, st: Stats, rel: string, kind: EntryKind): Pick<Entry, 'mode' | 'mtime' | 'uid' | 'gid' | 'uname' | 'gname'> {
  return { mode: o.mode({ path: rel, kind, mode: st.mode & 0o7777 }), mtime: o.mtime(mtimeOf(st)), ...o.owner(st.uid, st.gid) };
}

/**
 * Streams `dir` as a deterministic tar: the directory itself is not an entry (unless `prefix` puts
 * it somewhere), names are relative and sorted by bytes, directories end with '/'. See docs/TAR.md.
 * Options are checked at the call (TypeError/RangeError); filesystem failures reject the stream
 * with ErrTarSource, and changes of the tree under the walker with ErrTarSourceChanged.
 */
export function tarDirectory(dir: string, options?: TarOptions): AsyncGenerator<Buffer> {
  const o = resolveTarOptions(dir, options);
  const vroot = virtualTree(o);
  const hooks = ((options as Record<symbol, unknown> | undefined)?.[kTestHooks] ?? {}) as TestHooks;
  // Every chunk is a new buffer (or a slice of Node's pool), never written again once yielded.
  return markFresh(produce(dir, o, vroot, hooks));
}

async function* produce(dir: string, o: Resolved, vroot: VNode, hooks: TestHooks): AsyncGenerator<Buffer> {
  const rootPath = Buffer.from(dir.length > 1 ? dir.replace(/\/+$/, '') : dir);
  let root: DirRef;
  try {
    root = await openRoot(rootPath);
  } catch (err) {
    throw new ErrTarSource(`cannot archive ${dir}: ${(err as Error).message}`, err);
  }
  const reader = o.xattrs ? new XattrReader() : undefined;
  const items = walk(root, o, vroot, hooks, reader);
  const queue: { item: Item; prepared: Promise<Prepared> | undefined }[] = [];
  const links = new Map<string, Buffer>();
  let listed = false;
  let batch: Buffer[] = [];
  let batched = 0;
  const add = (b: Buffer) => {
    batch.push(b);
    batched += b.length;
  };
  const take = () => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  try {
    for (;;) {
      while (!listed && queue.length < READ_AHEAD) {
        const next = await items.next();
        if (next.done) {
          listed = true;
          break;
        }
        const item = next.value;
        const prepared = item.kind === 'entry' ? prepare(item, hooks, reader) : undefined;
        prepared?.catch(ignore); // awaited below in order; must not count as unhandled meanwhile
        queue.push({ item, prepared });
      }
      const q = queue.shift();
      if (!q) break;
      const { item } = q;
      if (!o.keepWhiteoutFiles && whiteoutNamed(item)) {
        const path = item.kind === 'entry' ? item.display.toString() : `${rootPath.toString()}/${(item as { rel: string }).rel}`;
        throw new ErrTarSource(`${path}: an entry named ${WHITEOUT_PREFIX}* is a whiteout to every image tool (it would delete a path of the layers below and not be extracted); rename or exclude it (keepWhiteoutFiles: true, the CLI's --keep-whiteout-files, writes it as it is)`);
      }
      if (item.kind === 'marker') {
        add(entryHeader({ name: item.name, type: '0', mode: 0, size: 0, mtime: o.syntheticMtime, ...o.owner(0, 0) }));
      } else if (item.kind === 'dir') {
        const m = item.st
          ? meta(o, item.st, item.rel, 'directory')
          : { mode: 0o755, mtime: o.syntheticMtime, ...o.owner(0, 0) };
        add(entryHeader({ name: item.name, type: '5', size: 0, ...m, ...(item.xattrs ? { xattrs: item.xattrs } : {}) }));
      } else {
        const p = await q.prepared!;
        const { opened } = p;
        const st = opened.st;
        const k = kindOf(opened);
        if (!k) {
          closeUnread(p);
          o.onSkip(item.display.toString(), st.isSocket() ? 'socket' : 'unknown');
          continue;
        }
        if (st.nlink > 1) {
          const id = `${st.dev}:${st.ino}`;
          const first = links.get(id);
          if (first) {
            closeUnread(p);
            add(entryHeader({ name: item.name, type: '1', size: 0, linkname: first, ...meta(o, st, item.rel, 'hardlink') }));
            continue;
          }
          links.set(id, item.name);
        }
        const base = { name: item.name, type: k.type, ...meta(o, st, item.rel, k.kind), ...(p.xattrs ? { xattrs: p.xattrs } : {}) };
        if (opened.kind === 'symlink') add(entryHeader({ ...base, size: 0, linkname: opened.linkname }));
        else if (opened.kind === 'special') add(entryHeader({ ...base, size: 0, ...(k.type === '6' ? {} : devNumbers(st.rdev)) }));
        else if (p.data) {
          add(entryHeader({ ...base, size: st.size }));
          if (st.size > 0) {
            add(p.data);
            add(padding(st.size));
          }
        } else {
          add(entryHeader({ ...base, size: st.size }));
          // fileBody closes the descriptor once it runs; a consumer that stops at the header's
          // yield never starts it, and the entry has already left the queue the finally below closes.
          let started = false;
          try {
            yield take();
            started = true;
            yield* fileBody(opened.fd, st.size, item.display);
          } finally {
            if (!started) closeNow(opened.fd);
          }
        }
      }
      if (batched >= BATCH) yield take();
    }
    add(trailer());
    yield take();
  } catch (err) {
    throw wrap(rootPath, err);
  } finally {
    for (const q of queue) q.prepared?.then(closeUnread, ignore);
    await items.return(undefined);
    root.release();
  }
}
