// The eStargz table of contents (stargz.index.json) and the 51-byte footer, as the eStargz spec
// (estargz.md in stargz-snapshotter) specifies them. The footer is an empty gzip member whose extra field carries the
// TOC's offset, so a reader finds the TOC from the blob's last 51 bytes alone.
import { ErrTarInvalid } from '../tar/errors.js';
import { ErrEstargzInvalid } from './errors.js';
import type { SplitEntry } from './tar-split.js';

export const TOC_NAME = 'stargz.index.json';
export const PREFETCH_LANDMARK = '.prefetch.landmark';
export const NO_PREFETCH_LANDMARK = '.no.prefetch.landmark';
/** The one byte a landmark file holds (upstream's landmarkContents). */
export const LANDMARK_CONTENT = 0x0f;
export const FOOTER_SIZE = 51;
/**
 * The version of this writer's layout (member cuts, TOC fields and their order): raised whenever
 * a blob of the same tar and options would change, so layer caches keyed on it never mix layouts.
 * 2: a prioritised hard link brings its target; binary xattrs and modtimes past 9999 written right
 * (a cached layer of version 1 may be one that cannot be unpacked).
 */
export const ESTARGZ_LAYOUT_VERSION = 2;

/** The tar's own entries that would shadow the layer's TOC or landmarks: refused. */
const RESERVED = new Set([TOC_NAME, PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK]);

/** The entry, or ErrTarInvalid when its name is one the format reserves. */
export function checkName(e: SplitEntry): SplitEntry {
  if (RESERVED.has(e.name)) throw new ErrTarInvalid(`invalid tar stream for eStargz: the entry name ${JSON.stringify(e.name)} is reserved by the format`);
  return e;
}

/** One TOC entry; field names and omissions follow upstream's JSON (`omitempty`). */
export interface TocEntry {
  name: string;
  type: 'dir' | 'reg' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'chunk';
  size?: number;
  modtime?: string;
  linkName?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  offset?: number;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, string>;
  digest?: string;
  chunkOffset?: number;
  chunkSize?: number;
  chunkDigest?: string;
}

export interface Toc {
  version: 1;
  entries: TocEntry[];
}

const TYPES: Record<string, TocEntry['type']> = {
  file: 'reg', 'contiguous-file': 'reg', directory: 'dir', symlink: 'symlink', link: 'hardlink',
  'character-device': 'char', 'block-device': 'block', fifo: 'fifo',
};

/** The range of years RFC 3339 and Go's time.Time JSON take: 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_MODTIME_MS = -62_167_219_200_000;
const MAX_MODTIME_MS = 253_402_300_799_000;

/**
 * An entry's time as the TOC's `modtime`, clamped to years 0000-9999: toISOString writes a year past
 * them with six digits and a sign ("+011476-08-15T05:20:00Z"), which Go's time.Time refuses, and so the
 * whole TOC (stargz-snapshotter reads it with encoding/json). The tar header keeps the real time.
 */
function modtime(d: Date): string {
  const ms = Math.min(MAX_MODTIME_MS, Math.max(MIN_MODTIME_MS, d.getTime()));
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The TOC entry of a tar entry, without offset and digests (the writer adds those). */
export function tocEntry(e: SplitEntry): TocEntry {
  const t: TocEntry = { name: e.name, type: TYPES[e.type] ?? 'reg' };
  if (t.type === 'reg' && e.size > 0) t.size = e.size;
  t.modtime = modtime(e.mtime);
  if (e.linkname !== undefined) t.linkName = e.linkname;
  if (e.mode !== 0) t.mode = e.mode;
  if (e.uid !== 0) t.uid = e.uid;
  if (e.gid !== 0) t.gid = e.gid;
  if (e.uname !== '') t.userName = e.uname;
  if (e.gname !== '') t.groupName = e.gname;
  if (t.type === 'char' || t.type === 'block') {
    if (e.devmajor !== 0) t.devMajor = e.devmajor;
    if (e.devminor !== 0) t.devMinor = e.devminor;
  }
  // SCHILY.xattr.* PAX records: their bytes in base64, as upstream's []byte (never the UTF-8 text:
  // a binary value such as security.capability would change).
  for (const [k, v] of Object.entries(e.xattrs ?? {})) (t.xattrs ??= {})[k] = v.toString('base64');
  return t;
}

/** The footer pointing at the TOC member that starts at `tocOffset`. */
export function footer(tocOffset: number): Buffer {
  const b = Buffer.alloc(FOOTER_SIZE);
  // gzip header: magic, deflate, FEXTRA, mtime 0, XFL 0, OS unknown (255); XLEN 26.
  b.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff], 0);
  b.writeUInt16LE(26, 10);
  // One extra subfield 'SG' of 22 bytes: the TOC offset in 16 hex digits, then "STARGZ".
  b.write('SG', 12, 'latin1');
  b.writeUInt16LE(22, 14);
  b.write(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 16, 'latin1');
  // An empty final stored block; CRC-32 and ISIZE of nothing are zero.
  b.set([0x01, 0x00, 0x00, 0xff, 0xff], 38);
  return b;
}

/** The TOC offset a footer names; ErrEstargzInvalid when these 51 bytes are not an eStargz footer. */
export function parseFooter(b: Uint8Array): number {
  const f = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (f.length !== FOOTER_SIZE) throw new ErrEstargzInvalid(`the footer has ${f.length} bytes, not ${FOOTER_SIZE}`);
  if (f[0] !== 0x1f || f[1] !== 0x8b || f[2] !== 8 || (f[3]! & 4) === 0 || f.readUInt16LE(10) !== 26) {
    throw new ErrEstargzInvalid('the last 51 bytes are not a gzip header with an extra field');
  }
  if (f.toString('latin1', 12, 14) !== 'SG' || f.readUInt16LE(14) !== 22) throw new ErrEstargzInvalid("the footer's extra field is not 'SG'");
  const text = f.toString('latin1', 16, 38);
  if (!/^[0-9a-f]{16}STARGZ$/.test(text)) throw new ErrEstargzInvalid(`the footer's extra field is ${JSON.stringify(text)}`);
  const offset = parseInt(text.slice(0, 16), 16);
  if (!Number.isSafeInteger(offset)) throw new ErrEstargzInvalid('the TOC offset is out of range');
  return offset;
}
