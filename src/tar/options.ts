// Options of tarDirectory, validated once at the boundary and turned into the policies the walker
// and writer apply: which mtime an entry gets, which owner, which mode, which paths are left out.
import { readFileSync } from 'node:fs';
import { ErrInvalidOption, ErrOptionRange, ErrTarSource, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { dockerignoreLines, layerMatcher } from './patterns.js';
import { MAX_MTIME_SECONDS } from './header.js';

/** Kinds of entries the walker meets. */
export type EntryKind = 'file' | 'directory' | 'symlink' | 'hardlink' | 'fifo' | 'character-device' | 'block-device';

export type MtimePolicy = 'keep' | number | Date | { clamp: number | Date };

export interface ModeOverride {
  /** Path relative to the archived directory, '/'-separated, without a trailing slash. */
  path: string;
  kind: EntryKind;
  /** The mode on disk (permission and set-id bits). */
  mode: number;
}

export interface TarOptions {
  /**
   * Entries that cannot be archived and are left out: sockets (kind 'socket'). Called with the path
   * on disk. Without it they are still left out; nothing else is ever dropped.
   */
  onSkip?: (path: string, kind: string) => void;
  /**
   * Entry mtimes: 'keep' the file's, a fixed time for every entry, or { clamp: t }: the file's mtime
   * but never later than t. Seconds since the epoch or a Date. Default: clamp to SOURCE_DATE_EPOCH
   * when that variable is set (as BuildKit does), else 'keep'.
   */
  mtime?: MtimePolicy;
  /** Owner written for every entry. Default uid 0 / gid 0, names 'root' (as GNU tar --owner=0 --group=0). */
  owner?: { uid: number; gid: number };
  /** Write each file's own uid and gid (numeric only, no names) instead of root:root. */
  keepOwner?: boolean;
  /** Where the directory lands in the image, e.g. '/app' gives 'app/...' entries (and the parent entries). */
  prefix?: string;
  /** Patterns with .dockerignore semantics, relative to the directory; '!' re-includes. */
  exclude?: readonly string[];
  /** Path of a .dockerignore file whose patterns are added to `exclude` (read once, at the call). */
  dockerignore?: string;
  /**
   * Only the paths these patterns match (.dockerignore syntax, no '!'), with everything below them;
   * `exclude` and `dockerignore` then leave paths out of those, and no '!' there can take back a
   * path these leave out. Default: every path.
   */
  include?: readonly string[];
  /**
   * Mode overrides: a map from relative path to mode, or a function returning the mode to write
   * (undefined keeps the one on disk).
   */
  mode?: Readonly<Record<string, number>> | ((entry: ModeOverride) => number | undefined);
  /** Image paths this layer deletes from the layers below: written as '.wh.NAME' entries. */
  whiteouts?: readonly string[];
  /** Image directories whose content from the layers below is hidden: written as '.wh..wh..opq' entries. */
  opaqueDirs?: readonly string[];
  /**
   * Record extended attributes (security.capability, user.*, ...; not security.selinux) as PAX
   * SCHILY.xattr records. Linux only; needs the getfattr program (Debian package "attr").
   */
  xattrs?: boolean;
  /**
   * Write entries of the tree named `.wh.*` as they are. Every image tool reads such a name as a
   * whiteout (it deletes a path of the layers below and is not extracted itself), so by default one
   * fails the stream with ErrTarSource instead of silently losing the file and a lower path.
   */
  keepWhiteoutFiles?: boolean;
}

export interface Resolved {
  onSkip: (path: string, kind: string) => void;
  mtime: (seconds: number) => number;
  /** mtime of entries that have no file behind them (parents of the prefix, whiteouts). */
  syntheticMtime: number;
  owner: (uid: number, gid: number) => { uid: number; gid: number; uname: string; gname: string };
  mode: (entry: ModeOverride) => number;
  /** Layer path of the archived directory: '' or 'app/' ... (bytes, ends with '/'). */
  prefix: Buffer;
  /** Whether a path relative to the directory ('/'-separated bytes, as the walker has it) is left out. */
  excluded: ((rel: Buffer) => boolean) | undefined;
  /** True when some pattern re-includes paths: excluded directories must still be walked. */
  reincludes: boolean;
  whiteouts: string[];
  opaqueDirs: string[];
  xattrs: boolean;
  keepWhiteoutFiles: boolean;
}

/**
 * A time in whole seconds (a number is rounded down), within what a Date holds (±8.64e12 s, the
 * range every reader of the project, readTar's Date included, gives back; entryHeader writes it in a
 * PAX record past 11 octal digits or before 1970), so that a time out of range is refused here at the
 * call, not as ErrTarSource once the stream is running. A valid Date is always within.
 */
function seconds(name: string, value: unknown): number {
  if (value instanceof Date) {
    const t = value.getTime();
    if (Number.isNaN(t)) throw new ErrOptionRange(name, 'a valid Date', value);
    return Math.floor(t / 1000);
  }
  if (typeof value !== 'number') throw new ErrInvalidOption(name, 'a number of seconds or a Date', value);
  const s = Math.floor(value);
  if (!(Math.abs(s) <= MAX_MTIME_SECONDS)) throw new ErrOptionRange(name, 'a number of seconds from -8.64e12 to 8.64e12 (what a Date holds)', value);
  return s;
}

/**
 * SOURCE_DATE_EPOCH (reproducible-builds.org) as whole seconds, or undefined when unset or empty.
 * Anything but a decimal integer is refused: a typo must not silently give another digest.
 */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !(Number(raw) <= MAX_MTIME_SECONDS)) throw new ErrOptionRange('SOURCE_DATE_EPOCH (environment variable)', 'a non-negative decimal integer of seconds up to 8.64e12', raw);
  return Number(raw);
}

function mtimePolicy(value: unknown): { mtime: (s: number) => number; synthetic: number } {
  const policy = value === undefined ? (sourceDateEpoch() === undefined ? 'keep' : { clamp: sourceDateEpoch()! }) : value;
  if (policy === 'keep') return { mtime: (s) => s, synthetic: 0 };
  if (typeof policy === 'object' && policy !== null && !(policy instanceof Date)) {
    if (!('clamp' in policy)) throw new ErrInvalidOption('mtime', "'keep', a time or { clamp: time }", value);
    const limit = seconds('mtime.clamp', (policy as { clamp: unknown }).clamp);
    return { mtime: (s) => Math.min(s, limit), synthetic: limit };
  }
  if (typeof policy === 'string') throw new ErrOptionRange('mtime', "'keep', a time or { clamp: time }", value);
  const fixed = seconds('mtime', policy);
  return { mtime: () => fixed, synthetic: fixed };
}

/**
 * A uid or gid: an integer 0 <= id < 2^32, as the string form ('UID:GID', parseOwnerArg) allows. No
 * Linux id is wider, and GNU tar refuses a PAX uid/gid record past 2^32 - 1 (the archive fails).
 */
function id(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new ErrInvalidOption(name, 'a number', value);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new ErrOptionRange(name, 'an integer 0 <= id < 2^32', value);
  return value;
}

/** '/app/' -> 'app/'; '' and '/' -> ''. Refuses '..' and empty components. */
function cleanImagePath(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new ErrInvalidOption(name, 'a string', value);
  const parts = value.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..') || value.includes('\0')) throw new ErrOptionRange(name, "a path without '..' or NUL", value);
  return parts.join('/');
}

function stringList(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ErrInvalidOption(name, 'an array of strings', value);
  return [...(value as string[])]; // a copy: the .dockerignore lines are appended to it
}

const TAR_KEYS = optionKeys<TarOptions>({
  onSkip: true, mtime: true, owner: true, keepOwner: true, prefix: true, exclude: true, dockerignore: true, include: true,
  mode: true, whiteouts: true, opaqueDirs: true, xattrs: true, keepWhiteoutFiles: true,
});

export function resolveTarOptions(dir: unknown, options: unknown): Resolved {
  if (typeof dir !== 'string' || dir === '') throw new ErrInvalidOption('dir', 'a non-empty string', dir);
  if (options === undefined) options = {};
  refuseUnknownOptions(options, TAR_KEYS, 'tarDirectory()');
  const o = options as TarOptions;
  if (o.onSkip !== undefined && typeof o.onSkip !== 'function') throw new ErrInvalidOption('onSkip', 'a function', o.onSkip);
  if (o.xattrs !== undefined && typeof o.xattrs !== 'boolean') throw new ErrInvalidOption('xattrs', 'a boolean', o.xattrs);
  if (o.keepWhiteoutFiles !== undefined && typeof o.keepWhiteoutFiles !== 'boolean') throw new ErrInvalidOption('keepWhiteoutFiles', 'a boolean', o.keepWhiteoutFiles);
  if (o.xattrs && process.platform !== 'linux') {
    throw new ErrOptionRange('xattrs', 'false on this platform: extended attributes are read through Linux /proc', true);
  }
  const { mtime, synthetic } = mtimePolicy(o.mtime);

  let owner: Resolved['owner'];
  if (o.keepOwner !== undefined && typeof o.keepOwner !== 'boolean') throw new ErrInvalidOption('keepOwner', 'a boolean', o.keepOwner);
  if (o.keepOwner && o.owner !== undefined) throw new ErrOptionRange('keepOwner', 'false when owner is given', true);
  if (o.keepOwner) owner = (uid, gid) => ({ uid, gid, uname: '', gname: '' });
  else if (o.owner !== undefined) {
    if (typeof o.owner !== 'object' || o.owner === null) throw new ErrInvalidOption('owner', 'an object { uid, gid }', o.owner);
    const fixed = { uid: id('owner.uid', o.owner.uid), gid: id('owner.gid', o.owner.gid) };
    const named = { ...fixed, uname: fixed.uid === 0 ? 'root' : '', gname: fixed.gid === 0 ? 'root' : '' };
    owner = () => named;
  } else {
    const root = { uid: 0, gid: 0, uname: 'root', gname: 'root' };
    owner = () => root;
  }

  let mode: Resolved['mode'] = (e) => e.mode;
  if (typeof o.mode === 'function') {
    const fn = o.mode;
    mode = (e) => {
      const m = fn(e);
      if (m === undefined) return e.mode;
      if (!Number.isInteger(m) || m < 0 || m > 0o7777) throw new ErrOptionRange('mode', 'to return an integer 0..0o7777 or undefined', m);
      return m;
    };
  } else if (o.mode !== undefined) {
    if (typeof o.mode !== 'object' || o.mode === null) throw new ErrInvalidOption('mode', 'an object or a function', o.mode);
    const map = new Map<string, number>();
    for (const [path, m] of Object.entries(o.mode)) {
      if (!Number.isInteger(m) || m < 0 || m > 0o7777) throw new ErrOptionRange(`mode[${JSON.stringify(path)}]`, 'an integer 0..0o7777', m);
      map.set(cleanImagePath('mode', path), m);
    }
    mode = (e) => map.get(e.path) ?? e.mode;
  }

  const prefix = o.prefix === undefined ? '' : cleanImagePath('prefix', o.prefix);
  const patterns = stringList('exclude', o.exclude);
  if (o.dockerignore !== undefined) {
    if (typeof o.dockerignore !== 'string') throw new ErrInvalidOption('dockerignore', 'a path string', o.dockerignore);
    try {
      patterns.push(...dockerignoreLines(readFileSync(o.dockerignore)));
    } catch (err) {
      throw new ErrTarSource(`cannot read ${o.dockerignore}: ${(err as Error).message}`, err);
    }
  }
  const matcher = layerMatcher(patterns, stringList('include', o.include));
  return {
    onSkip: o.onSkip ?? (() => {}),
    mtime,
    syntheticMtime: synthetic,
    owner,
    mode,
    prefix: Buffer.from(prefix === '' ? '' : `${prefix}/`),
    excluded: matcher?.excluded,
    reincludes: matcher?.reincludes ?? false,
    whiteouts: stringList('whiteouts', o.whiteouts).map((p) => cleanImagePath('whiteouts', p)),
    opaqueDirs: stringList('opaqueDirs', o.opaqueDirs).map((p) => cleanImagePath('opaqueDirs', p)),
    xattrs: o.xattrs === true,
    keepWhiteoutFiles: o.keepWhiteoutFiles === true,
  };
}
