// The order of the archive and what each entry is: a depth-first walk of the real tree, sorted by
// name bytes at each level (a directory before its contents, as GNU tar --sort=name), merged with
// the virtual entries a layer adds (parents of the prefix, whiteouts, opaque markers). Directories
// are opened here, one descriptor per level of the current path; other entries are only named, and
// prepared (opened, read) by the writer, several at a time.
import { DirRef, join, list, openDir, wrap, type Dtype } from './fs-safe.js';
import type { Resolved } from './options.js';
import { ErrOptionRange, ErrTarSource } from '../core/errors.js';
import type { Stats } from 'node:fs';
import type { XattrReader } from './xattrs.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE = '.wh..wh..opq';

/** Test hooks: run before a listed entry is opened, to change the tree at that exact moment. */
export const kTestHooks = Symbol('fastlayer.tar.testHooks');
export interface TestHooks {
  beforeOpen?: (rel: string, dtype: Dtype) => void | Promise<void>;
  /** After a regular file was opened and described, before its bytes are read. */
  afterOpen?: (rel: string) => void | Promise<void>;
}

export type Item =
  /** A directory: `st` of its opened descriptor, or undefined for a virtual one. */
  | { kind: 'dir'; name: Buffer; rel: string; st: Stats | undefined; xattrs?: Map<string, Buffer> | undefined }
  /** A non-directory to open through `parent` (which the item holds a reference on). */
  | { kind: 'entry'; name: Buffer; rel: string; parent: DirRef; base: Buffer; dtype: Dtype; display: Buffer }
  /** A whiteout or opaque marker: an empty file. */
  | { kind: 'marker'; name: Buffer };

export interface VNode {
  children: Map<string, VNode | 'marker'>;
  /** The archived directory lands here. */
  mount?: boolean;
}

const key = (name: Buffer) => name.toString('latin1');

function vchild(node: VNode, name: string): VNode {
  const existing = node.children.get(key(Buffer.from(name)));
  if (existing === 'marker') throw new ErrOptionRange('whiteouts', `paths that are not also parents of other entries (${name})`, name);
  if (existing) return existing;
  const created: VNode = { children: new Map() };
  node.children.set(key(Buffer.from(name)), created);
  return created;
}

/**
 * The entries the layer adds besides the tree; checked at the call (ErrOptionRange). A directory the
 * layer makes (the prefix and its parents, the parents of whiteouts, opaque directories) named `.wh.*`
 * is refused unless keepWhiteoutFiles, as a tree's own one is: every image tool reads that name as a
 * whiteout, so `prefix: '/.wh.etc'` would delete the lower /etc and its files would not be extracted.
 */
export function virtualTree(o: Resolved): VNode {
  const root: VNode = { children: new Map() };
  const at = (path: string, option: string) => {
    if (!o.keepWhiteoutFiles && hasWhiteoutComponent(path)) throw whiteoutDirectory(option, `/${path.replace(/\/$/, '')}`);
    return path.split('/').filter((p) => p !== '').reduce(vchild, root);
  };
  const prefix = o.prefix.toString();
  at(prefix, 'prefix').mount = true;
  const marker = (dir: string, name: string, option: string) => {
    const node = at(dir, option);
    const k = key(Buffer.from(name));
    if (node.children.get(k) !== undefined) throw new ErrOptionRange('whiteouts', `paths that are not also parents of other entries or listed twice (${name})`, name);
    node.children.set(k, 'marker');
  };
  for (const path of o.whiteouts) {
    if (path === '') throw new ErrOptionRange('whiteouts', 'paths below the root', '/');
    const cut = path.lastIndexOf('/');
    marker(path.slice(0, cut + 1), WHITEOUT_PREFIX + path.slice(cut + 1), 'whiteouts');
  }
  for (const path of o.opaqueDirs) marker(path, OPAQUE, 'opaqueDirs');
  return root;
}

/** Whether an image path ('/'-separated) has a component named `.wh.*`: the one test of DEST, prefix and --prefix. */
export function hasWhiteoutComponent(path: string): boolean {
  return path.split('/').some((p) => p.startsWith(WHITEOUT_PREFIX));
}

/** An image path with a directory named `.wh.*` where keepWhiteoutFiles is not set (DEST, prefix). */
export function whiteoutDirectory(option: string, path: string): ErrOptionRange {
  return new ErrOptionRange(option, `an image path without a directory named ${WHITEOUT_PREFIX}* (a whiteout to every image tool: it would delete a path of the layers below and not be extracted; keepWhiteoutFiles: true, the CLI's --keep-whiteout-files, allows it)`, path);
}

interface Walk {
  o: Resolved;
  xattrs: XattrReader | undefined;
  hooks: TestHooks;
  root: DirRef;
  /** Excluded directories walked only for re-included content: emitted before the first such entry. */
  pending: Item[];
}

/** Subdirectories opened and listed ahead of the walk at each level: hides the latency of each. */
const PREFETCH = 4;

interface Listed2 {
  child: DirRef;
  listing: Awaited<ReturnType<typeof list>>;
  xattrs?: Map<string, Buffer> | undefined;
}

/** A name of a directory, real, virtual or both, with what the walk decided about it. */
interface Named {
  name: Buffer;
  dtype?: Dtype | undefined;
  virtual?: VNode | 'marker' | undefined;
  descend: boolean;
  isExcluded: boolean;
  relPath: Buffer | undefined;
}

/**
 * One directory of the current path: the walk keeps these on an explicit stack, not in nested
 * generators, so that neither the call stack nor the cost of passing an item up grows with depth.
 */
interface Frame {
  /** The opened directory, or undefined for a virtual one. */
  dir: DirRef | undefined;
  /** Path relative to the root ('' or ending with '/'), and layer path ('' or ending with '/'). */
  rel: Buffer;
  layer: Buffer;
  vnode: VNode | undefined;
  /** The listing when it was made ahead (a subdirectory); else listed when the frame is entered. */
  listed: Listed2['listing'] | undefined;
  /** Real and virtual names merged and sorted: set when the frame is entered. */
  sorted: Named[] | undefined;
  /** Indices in `sorted` of the subdirectories to descend into. */
  subdirs: number[];
  /** Subdirectories opened and listed ahead, by index in `sorted`. */
  ahead: Map<number, Promise<Listed2>>;
  /** Subdirectories prefetched so far, and the position of the current one, in `subdirs`. */
  next: number;
  position: number;
  /** The entry of `sorted` to take next. */
  index: number;
  /** The directory this frame holds a reference on, released when it is left (not the root's). */
  owned: DirRef | undefined;
  /** An excluded directory: w.pending's length just after its own item was put there. */
  mark: number | undefined;
}

const EMPTY = Buffer.alloc(0);
const SLASH = Buffer.from('/');

function frame(dir: DirRef | undefined, rel: Buffer, layer: Buffer, vnode: VNode | undefined, listed?: Listed2['listing'], owned?: DirRef): Frame {
  return { dir, rel, layer, vnode, listed, sorted: undefined, subdirs: [], ahead: new Map(), next: 0, position: 0, index: 0, owned, mark: undefined };
}

/**
 * Every item of the archive in order: a depth-first walk without recursion, so any depth takes the
 * same call stack and an item costs the same at any depth. Each level of the current path holds its
 * directory's descriptor and listing: a tree deeper than the open-files limit fails with
 * ERR_TAR_SOURCE (EMFILE) naming the directory. The root directory's descriptor is the caller's.
 */
export async function* walk(root: DirRef, o: Resolved, vroot: VNode, hooks: TestHooks = {}, xattrs?: XattrReader): AsyncGenerator<Item> {
  const w: Walk = { o, hooks, root, pending: [], xattrs };
  const stack: Frame[] = [frame(vroot.mount ? root : undefined, EMPTY, EMPTY, vroot)];
  try {
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      const sorted = f.sorted ?? (await enter(w, f));
      if (f.index >= sorted.length) {
        stack.pop();
        // Nothing below was included: the excluded directory stays out.
        if (f.mark !== undefined && w.pending.length >= f.mark) w.pending.length = f.mark - 1;
        release(f);
        continue;
      }
      const index = f.index++;
      const { name, dtype, virtual, descend, isExcluded, relPath } = sorted[index]!;
      const dir = f.dir;
      const layerName = Buffer.concat([f.layer, name]);
      if (virtual === 'marker') {
        if (dtype !== undefined) throw new ErrTarSource(`fastlayer: ${layerName.toString()} is both a whiteout marker and an entry of the directory`);
        if (w.pending.length > 0) for (const item of w.pending.splice(0)) yield item;
        yield { kind: 'marker', name: layerName };
        continue;
      }
      if (dtype === undefined || !dir) {
        // A virtual directory only: a parent of the prefix or of a whiteout.
        const node = virtual!;
        const dirName = Buffer.concat([layerName, SLASH]);
        if (w.pending.length > 0) for (const item of w.pending.splice(0)) yield item;
        const xattrs = node.mount ? await w.xattrs?.read(w.root.fd) : undefined;
        yield { kind: 'dir', name: dirName, rel: '', st: node.mount ? w.root.st : undefined, xattrs };
        stack.push(frame(node.mount ? w.root : undefined, EMPTY, dirName, node));
        continue;
      }
      const relString = relPath!.toString();
      const display = join(w.root.display, relPath!);
      if (virtual && dtype !== 'dir') throw new ErrTarSource(`fastlayer: ${display.toString()} is not a directory, but the layer puts entries under it`);
      if (dtype === 'dir') {
        if (!descend) continue;
        prefetch(w, f, f.position + PREFETCH);
        f.position++;
        const pending = f.ahead.get(index)!;
        f.ahead.delete(index);
        const { child, listing, xattrs } = await pending;
        // On the stack before anything is yielded: released with it, whatever ends the walk.
        const dirName = Buffer.concat([layerName, SLASH]);
        const sub = frame(child, Buffer.concat([relPath!, SLASH]), dirName, virtual as VNode | undefined, listing, child);
        stack.push(sub);
        const item: Item = { kind: 'dir', name: dirName, rel: relString, st: child.st, xattrs };
        if (isExcluded) {
          w.pending.push(item);
          sub.mark = w.pending.length;
        } else {
          if (w.pending.length > 0) for (const it of w.pending.splice(0)) yield it;
          yield item;
        }
        continue;
      }
      if (isExcluded) continue;
      await w.hooks.beforeOpen?.(relString, dtype);
      if (w.pending.length > 0) for (const item of w.pending.splice(0)) yield item;
      yield { kind: 'entry', name: layerName, rel: relString, parent: dir.acquire(), base: name, dtype, display };
    }
  } finally {
    // Abandoned (failure or early return): from the deepest level up, what each opened.
    for (let i = stack.length - 1; i >= 0; i--) release(stack[i]!);
  }
}

/** Lists the frame's directory if it was not listed ahead, and merges and sorts its names. */
async function enter(w: Walk, f: Frame): Promise<Named[]> {
  const dir = f.dir;
  let real: Listed2['listing'] = f.listed ?? [];
  if (!f.listed && dir) {
    try {
      real = await list(dir);
    } catch (err) {
      throw wrap(dir.display, err);
    }
  }
  f.listed = undefined;
  const names = new Map<string, { name: Buffer; dtype?: Dtype; virtual?: VNode | 'marker' }>();
  for (const r of real) names.set(key(r.name), { name: r.name, dtype: r.dtype });
  for (const [k, v] of f.vnode?.children ?? []) {
    const seen = names.get(k);
    if (seen) seen.virtual = v;
    else names.set(k, { name: Buffer.from(k, 'latin1'), virtual: v });
  }
  const sorted: Named[] = [...names.values()]
    .sort((a, b) => Buffer.compare(a.name, b.name))
    .map((e) => {
      if (e.dtype === undefined || !dir || e.virtual === 'marker') return { ...e, descend: false, isExcluded: false, relPath: undefined };
      const relPath = join(f.rel, e.name);
      const isExcluded = w.o.excluded ? w.o.excluded(relPath) : false;
      const descend = e.dtype === 'dir' && !(isExcluded && !w.o.reincludes && !e.virtual);
      return { ...e, descend, isExcluded, relPath };
    });
  f.subdirs = sorted.flatMap((e, i) => (e.descend ? [i] : []));
  f.sorted = sorted;
  return sorted;
}

async function openAndList(w: Walk, dir: DirRef, name: Buffer, display: Buffer, rel: string): Promise<Listed2> {
  await w.hooks.beforeOpen?.(rel, 'dir');
  let child: DirRef;
  // The parent stays open until the open through it is done, even if the walk is abandoned meanwhile.
  dir.acquire();
  try {
    child = await openDir(dir, name, display);
  } catch (err) {
    throw wrap(display, err);
  } finally {
    dir.release();
  }
  try {
    const [listing, xattrs] = await Promise.all([list(child), w.xattrs?.read(child.fd)]);
    return { child, listing, xattrs };
  } catch (err) {
    child.release();
    throw wrap(display, err);
  }
}

const ignore = () => {};

/** Opens and lists the frame's subdirectories up to position `upTo` of `subdirs`, not yet awaited. */
function prefetch(w: Walk, f: Frame, upTo: number): void {
  const sorted = f.sorted!;
  for (; f.next < f.subdirs.length && f.next <= upTo; f.next++) {
    const i = f.subdirs[f.next]!;
    const e = sorted[i]!;
    const p = openAndList(w, f.dir!, e.name, join(w.root.display, e.relPath!), e.relPath!.toString());
    p.catch(ignore); // awaited in order by the walk
    f.ahead.set(i, p);
  }
}

/** Leaves a frame: what was opened ahead of the walk (unused when it is abandoned), then its directory. */
function release(f: Frame): void {
  for (const p of f.ahead.values()) p.then(({ child }) => child.release(), ignore);
  f.ahead.clear();
  f.owned?.release();
  f.owned = undefined;
}
