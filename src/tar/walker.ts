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
  const at = (path: string, option: string) => path.split('/').filter((p) => p !== '').reduce((node, name) => {
    if (!o.keepWhiteoutFiles && name.startsWith(WHITEOUT_PREFIX)) throw whiteoutDirectory(option, `/${path.replace(/\/$/, '')}`);
    return vchild(node, name);
  }, root);
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

/** An image path with a directory named `.wh.*` where keepWhiteoutFiles is not set (DEST, prefix). */
export function whiteoutDirectory(option: string, path: string): ErrOptionRange {
  return new ErrOptionRange(option, `an image path without a directory named ${WHITEOUT_PREFIX}* (a whiteout to every image tool: it would delete a path of the layers below and not be extracted), or keepWhiteoutFiles: true`, path);
}

interface Walk {
  o: Resolved;
  xattrs: XattrReader | undefined;
  hooks: TestHooks;
  root: DirRef;
  /** Excluded directories walked only for re-included content: emitted before the first such entry. */
  pending: Item[];
}

/** Every item of the archive in order. The root directory's descriptor is the caller's. */
export async function* walk(root: DirRef, o: Resolved, vroot: VNode, hooks: TestHooks = {}, xattrs?: XattrReader): AsyncGenerator<Item> {
  const w: Walk = { o, hooks, root, pending: [], xattrs };
  if (vroot.mount) yield* level(w, root, Buffer.alloc(0), Buffer.alloc(0), vroot);
  else yield* level(w, undefined, Buffer.alloc(0), Buffer.alloc(0), vroot);
}

/** Subdirectories opened and listed ahead of the walk at each level: hides the latency of each. */
const PREFETCH = 4;

interface Listed2 {
  child: DirRef;
  listing: Awaited<ReturnType<typeof list>>;
  xattrs?: Map<string, Buffer> | undefined;
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

async function* level(
  w: Walk, dir: DirRef | undefined, rel: Buffer, layer: Buffer, vnode: VNode | undefined, listed?: Listed2['listing'],
): AsyncGenerator<Item> {
  let real: Listed2['listing'] = listed ?? [];
  if (!listed && dir) {
    try {
      real = await list(dir);
    } catch (err) {
      throw wrap(dir.display, err);
    }
  }
  const names = new Map<string, { name: Buffer; dtype?: Dtype; virtual?: VNode | 'marker' }>();
  for (const r of real) names.set(key(r.name), { name: r.name, dtype: r.dtype });
  for (const [k, v] of vnode?.children ?? []) {
    const seen = names.get(k);
    if (seen) seen.virtual = v;
    else names.set(k, { name: Buffer.from(k, 'latin1'), virtual: v });
  }
  const sorted = [...names.values()]
    .sort((a, b) => Buffer.compare(a.name, b.name))
    .map((e) => {
      if (e.dtype === undefined || !dir || e.virtual === 'marker') return { ...e, descend: false, isExcluded: false, relPath: undefined };
      const relPath = join(rel, e.name);
      const isExcluded = w.o.excluded ? w.o.excluded(relPath) : false;
      const descend = e.dtype === 'dir' && !(isExcluded && !w.o.reincludes && !e.virtual);
      return { ...e, descend, isExcluded, relPath };
    });
  const subdirs = sorted.flatMap((e, i) => (e.descend ? [i] : []));
  const ahead = new Map<number, Promise<Listed2>>();
  let next = 0;
  let position = 0; // of the current subdirectory in `subdirs`
  const prefetch = (upTo: number) => {
    for (; next < subdirs.length && next <= upTo; next++) {
      const i = subdirs[next]!;
      const e = sorted[i]!;
      const p = openAndList(w, dir!, e.name, join(w.root.display, e.relPath!), e.relPath!.toString());
      p.catch(ignore); // awaited in order below
      ahead.set(i, p);
    }
  };

  try {
    for (let index = 0; index < sorted.length; index++) {
      const { name, dtype, virtual, descend, isExcluded, relPath } = sorted[index]!;
      const layerName = Buffer.concat([layer, name]);
      if (virtual === 'marker') {
        if (dtype !== undefined) throw new ErrTarSource(`fastlayer: ${layerName.toString()} is both a whiteout marker and an entry of the directory`);
        yield* flush(w);
        yield { kind: 'marker', name: layerName };
        continue;
      }
      if (dtype === undefined || !dir) {
        // A virtual directory only: a parent of the prefix or of a whiteout.
        const node = virtual!;
        const dirName = Buffer.concat([layerName, Buffer.from('/')]);
        yield* flush(w);
        const xattrs = node.mount ? await w.xattrs?.read(w.root.fd) : undefined;
        yield { kind: 'dir', name: dirName, rel: '', st: node.mount ? w.root.st : undefined, xattrs };
        yield* level(w, node.mount ? w.root : undefined, Buffer.alloc(0), dirName, node);
        continue;
      }
      const relString = relPath!.toString();
      const display = join(w.root.display, relPath!);
      if (virtual && dtype !== 'dir') throw new ErrTarSource(`fastlayer: ${display.toString()} is not a directory, but the layer puts entries under it`);
      if (dtype === 'dir') {
        if (!descend) continue;
        prefetch(position + PREFETCH);
        position++;
        const pending = ahead.get(index)!;
        ahead.delete(index);
        const { child, listing, xattrs } = await pending;
        try {
          const item: Item = { kind: 'dir', name: Buffer.concat([layerName, Buffer.from('/')]), rel: relString, st: child.st, xattrs };
          if (isExcluded) w.pending.push(item);
          else {
            yield* flush(w);
            yield item;
          }
          const mark = w.pending.length;
          yield* level(w, child, Buffer.concat([relPath!, Buffer.from('/')]), Buffer.concat([layerName, Buffer.from('/')]), virtual as VNode | undefined, listing);
          // Nothing below was included: the excluded directory stays out.
          if (isExcluded && w.pending.length >= mark) w.pending.length = mark - 1;
        } finally {
          child.release();
        }
        continue;
      }
      if (isExcluded) continue;
      await w.hooks.beforeOpen?.(relString, dtype);
      yield* flush(w);
      yield { kind: 'entry', name: layerName, rel: relString, parent: dir.acquire(), base: name, dtype, display };
    }
  } finally {
    // Abandoned (failure or early return): release what was opened ahead.
    for (const p of ahead.values()) p.then(({ child }) => child.release(), ignore);
  }
}

function* flush(w: Walk): Generator<Item> {
  if (w.pending.length === 0) return;
  for (const item of w.pending.splice(0)) yield item;
}
