// ustar headers with PAX extended records only where ustar cannot hold a value, so that a tree of
// short ASCII names gives plain ustar bytes that every reader accepts. Deterministic: no atime,
// ctime or host-dependent fields; the PAX header's own name is derived from the entry's name.

import { ErrTarInvalid } from './errors.js';

export const BLOCK = 512;
/** Largest value of an 11-digit octal field (size, mtime). */
const OCTAL_11 = 0o77777777777;
/** Largest value of a 7-digit octal field (uid, gid, devmajor, devminor). */
const OCTAL_7 = 0o7777777;

/** ustar type flags fastlayer writes: file, hard link, symlink, char dev, block dev, dir, FIFO. */
export type EntryType = '0' | '1' | '2' | '3' | '4' | '5' | '6';

export interface Entry {
  /** Path bytes inside the archive; directories end with '/'. */
  name: Buffer;
  type: EntryType;
  /** Permission and set-id bits (0o7777). */
  mode: number;
  size: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkname?: Buffer;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as PAX SCHILY.xattr.NAME records (sorted by name). */
  xattrs?: ReadonlyMap<string, Buffer>;
}

function isPortable(bytes: Buffer, max: number): boolean {
  if (bytes.length > max) return false;
  for (const b of bytes) if (b < 0x20 || b > 0x7e) return false;
  return true;
}

function writeOctal(h: Buffer, offset: number, width: number, value: number): void {
  h.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'ascii');
  h[offset + width - 1] = 0;
}

/** ASCII stand-in for the ustar field when the real value travels in a PAX record. */
function fallback(bytes: Buffer, max: number): Buffer {
  const out = Buffer.from(bytes.subarray(0, max));
  for (let i = 0; i < out.length; i++) if (out[i]! < 0x20 || out[i]! > 0x7e) out[i] = 0x5f; // '_'
  return out;
}

/** One PAX record, "LEN KEY=VALUE\n", where LEN counts its own digits. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** What a ustar block holds: an Entry with every field present and no xattrs, plus the PAX 'x' type. */
type Fields = Required<Omit<Entry, 'type' | 'xattrs'>> & {
  type: EntryType | 'x';
  /** Sizes past 11 octal digits: base-256 in the block itself rather than 0 (with a PAX size record). */
  base256Size?: boolean;
};

/**
 * The size field. Past ustar's 8 GiB, either 0 (the caller carries the size in a PAX record) or the
 * base-256 form that Go's archive/tar (containerd, skopeo, Docker, podman, umoci) and GNU tar read,
 * which keeps the header one block.
 */
function writeSize(h: Buffer, size: number, base256: boolean): void {
  if (size <= OCTAL_11) writeOctal(h, 124, 12, size);
  else if (!base256) writeOctal(h, 124, 12, 0);
  else {
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
}

function ustarHeader(f: Fields): Buffer {
  const h = Buffer.alloc(BLOCK);
  f.name.copy(h, 0, 0, 100);
  writeOctal(h, 100, 8, f.mode);
  writeOctal(h, 108, 8, f.uid > OCTAL_7 ? 0 : f.uid);
  writeOctal(h, 116, 8, f.gid > OCTAL_7 ? 0 : f.gid);
  writeSize(h, f.size, f.base256Size === true);
  writeOctal(h, 136, 12, f.mtime < 0 || f.mtime > OCTAL_11 ? 0 : f.mtime);
  h.write(f.type, 156, 'ascii');
  f.linkname.copy(h, 157, 0, 100);
  h.write('ustar\u000000', 257, 'ascii');
  h.write(f.uname.slice(0, 31), 265, 'ascii');
  h.write(f.gname.slice(0, 31), 297, 'ascii');
  writeOctal(h, 329, 8, f.devmajor);
  writeOctal(h, 337, 8, f.devminor);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

function checkNumber(what: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`fastlayer: tar ${what} ${value} is not an integer between 0 and ${max}`);
  }
}

/** Header block(s) of an entry: a PAX extended header first when ustar cannot hold a value. */
export function entryHeader(e: Entry): Buffer {
  const link = e.linkname ?? Buffer.alloc(0);
  const devmajor = e.devmajor ?? 0;
  const devminor = e.devminor ?? 0;
  checkNumber('devmajor', devmajor, OCTAL_7);
  checkNumber('devminor', devminor, OCTAL_7);
  checkNumber('size', e.size, Number.MAX_SAFE_INTEGER);
  checkNumber('uid', e.uid, Number.MAX_SAFE_INTEGER);
  checkNumber('gid', e.gid, Number.MAX_SAFE_INTEGER);
  if (!Number.isSafeInteger(e.mtime)) throw new RangeError(`fastlayer: tar mtime ${e.mtime} is not an integer`);
  const records: Buffer[] = [];
  // Names go in as the filesystem has them, UTF-8 or not: GNU tar and Go read the raw bytes back,
  // and GNU tar warns about the 'hdrcharset' keyword that would flag them.
  if (!isPortable(e.name, 100)) records.push(paxRecord('path', e.name));
  if (!isPortable(link, 100)) records.push(paxRecord('linkpath', link));
  if (e.size > OCTAL_11) records.push(paxRecord('size', Buffer.from(String(e.size))));
  if (e.mtime < 0 || e.mtime > OCTAL_11) records.push(paxRecord('mtime', Buffer.from(String(e.mtime))));
  if (e.uid > OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
  if (e.gid > OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
  if (!isPortable(Buffer.from(e.uname), 31)) records.push(paxRecord('uname', Buffer.from(e.uname)));
  if (!isPortable(Buffer.from(e.gname), 31)) records.push(paxRecord('gname', Buffer.from(e.gname)));
  if (e.xattrs) {
    for (const key of [...e.xattrs.keys()].sort()) records.push(paxRecord(`SCHILY.xattr.${key}`, e.xattrs.get(key)!));
  }
  const main = ustarHeader({
    ...e,
    name: fallback(e.name, 100),
    linkname: fallback(link, 100),
    uname: isPortable(Buffer.from(e.uname), 31) ? e.uname : '',
    gname: isPortable(Buffer.from(e.gname), 31) ? e.gname : '',
    devmajor,
    devminor,
  });
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const paxName = fallback(Buffer.concat([Buffer.from('PaxHeaders/'), e.name]), 100);
  const pax = ustarHeader({
    name: paxName, linkname: Buffer.alloc(0), type: 'x', mode: 0o644, size: data.length, mtime: 0,
    uid: 0, gid: 0, uname: '', gname: '', devmajor: 0, devminor: 0,
  });
  return Buffer.concat([pax, data, padding(data.length), main]);
}

/**
 * A single ustar block for an entry owned by 0:0 with no link, uname or device numbers (the image
 * archive's own entries): no PAX header, so the block can be rewritten in place once a streamed
 * size is known. The name must fit ustar as it is.
 */
export function plainHeader(name: Buffer, type: EntryType, mode: number, size: number, mtime: number): Buffer {
  if (!isPortable(name, 100)) throw new RangeError(`fastlayer: tar name ${JSON.stringify(name.toString('latin1'))} does not fit a ustar header`);
  checkNumber('size', size, Number.MAX_SAFE_INTEGER);
  checkNumber('mtime', mtime, OCTAL_11);
  return ustarHeader({
    name, linkname: Buffer.alloc(0), type, mode, size, mtime,
    uid: 0, gid: 0, uname: '', gname: '', devmajor: 0, devminor: 0, base256Size: true,
  });
}

/** The two zero blocks that end an archive. */
export function trailer(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

// ---- Decoding: the one header decoder every archive reader of the project uses (src/tar/index.ts).

/** One header block as written, before PAX or GNU long-name records are applied. */
export interface RawHeader {
  name: string;
  linkname: string;
  /** The type flag character ('\0' for old regular files). */
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

/** Where a field's C string ends: its first NUL, or the field's end. */
function nulAt(block: Buffer, offset: number, width: number): number {
  const end = offset + width;
  for (let i = offset; i < end; i++) if (block[i] === 0) return i;
  return end;
}

/** A number field: octal (NUL/space padded) or GNU base-256 (high bit set; negative refused). */
function decodeNumber(block: Buffer, offset: number, width: number): number | undefined {
  // Read in place, byte by byte: every reader decodes ~8 of these per entry, and a subarray, an
  // indexOf or a string each cost more than the field's bytes (a string and two regular expressions
  // each cost the eStargz writer ~4 ms of a 32 MB layer's main thread).
  const first = block[offset]!;
  if (first & 0x80) {
    if (first === 0xff) return undefined; // negative base-256
    let n = first & 0x7f;
    for (let i = offset + 1; i < offset + width; i++) n = n * 256 + block[i]!;
    return Number.isSafeInteger(n) ? n : undefined;
  }
  // Octal digits up to the first NUL, with whitespace around them (String.prototype.trim's, in latin1).
  let end = nulAt(block, offset, width);
  let start = offset;
  while (start < end && isSpace(block[start]!)) start++;
  while (end > start && isSpace(block[end - 1]!)) end--;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = block[i]! - 0x30;
    if (d < 0 || d > 7) return undefined;
    n = n * 8 + d;
  }
  return n;
}

/** The latin1 characters String.prototype.trim removes: tab, LF, VT, FF, CR, space and NBSP. */
function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d) || b === 0xa0;
}

function cString(block: Buffer, offset: number, width: number): string {
  // Most link, prefix, user and group fields are empty: no call into the string decoder for them.
  if (block[offset] === 0) return '';
  return block.toString('utf8', offset, nulAt(block, offset, width));
}

/** Whether the magic field (257, 6 bytes) is POSIX ustar's "ustar\0" (GNU's is "ustar  "). */
function isPosixMagic(block: Buffer): boolean {
  return block[257] === 0x75 && block[258] === 0x73 && block[259] === 0x74 && block[260] === 0x61 && block[261] === 0x72 && block[262] === 0;
}

/** Whether a block is all zeros (the end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Decodes one 512-byte header block; ErrTarInvalid when it is not a valid header: a
 * wrong checksum (unsigned or the historical signed sum) or a size that is not a number.
 */
export function decodeHeader(block: Buffer): RawHeader {
  const stored = decodeNumber(block, 148, 8);
  // The checksum field counts as 8 spaces. Two plain loops around the field (no branch per byte on
  // the position); the historical signed sum (the unsigned one less 256 for each byte over 127) only
  // where the unsigned one does not match, as almost every writer's does.
  let unsigned = 8 * 32;
  for (let i = 0; i < 148; i++) unsigned += block[i]!;
  for (let i = 156; i < BLOCK; i++) unsigned += block[i]!;
  if (stored !== unsigned) {
    let high = 0;
    for (let i = 0; i < BLOCK; i++) if ((i < 148 || i >= 156) && block[i]! > 127) high++;
    if (stored === undefined || stored !== unsigned - 256 * high) throw new ErrTarInvalid('a wrong header checksum');
  }
  const size = decodeNumber(block, 124, 12);
  if (size === undefined) throw new ErrTarInvalid('a size that is not a number');
  // ustar (POSIX) has a prefix field; GNU's magic ("ustar  ") uses those bytes for other things.
  const prefix = isPosixMagic(block) ? cString(block, 345, 155) : '';
  const name = cString(block, 0, 100);
  // Fields nothing depends on for safety read as 0 when they are not numbers, as tar-stream did.
  const num = (offset: number, width: number): number => decodeNumber(block, offset, width) ?? 0;
  return {
    name: prefix ? `${prefix}/${name}` : name,
    linkname: cString(block, 157, 100),
    type: String.fromCharCode(block[156]!),
    size,
    mode: num(100, 8),
    uid: num(108, 8),
    gid: num(116, 8),
    mtime: num(136, 12),
    uname: cString(block, 265, 32),
    gname: cString(block, 297, 32),
    devmajor: num(329, 8),
    devminor: num(337, 8),
  };
}

/** PAX records of extended attributes (SCHILY.xattr.NAME), as GNU tar, bsdtar and Go write them. */
const XATTR = 'SCHILY.xattr.';

/**
 * The records of a PAX extended header ("LEN KEY=VALUE\n" each). ErrTarInvalid when a record is
 * malformed: a reader that skipped one could take a different name or size than another reader.
 * Values are decoded as UTF-8; `xattrs`, when given, also gets each SCHILY.xattr.NAME value as its
 * bytes, keyed by NAME: an attribute is binary (security.capability), and UTF-8 decoding turns
 * bytes that are not UTF-8 into U+FFFD.
 */
export function decodePax(data: Buffer, xattrs?: Map<string, Buffer>): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    // Trailing NUL padding after the last record (some writers) ends the list.
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    const digits = space < 0 ? '' : data.subarray(at, space).toString('latin1');
    const len = /^[0-9]{1,12}$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isSafeInteger(len) || space - at >= len || at + len > data.length || data[at + len - 1] !== 0x0a) {
      throw new ErrTarInvalid(`a malformed PAX record at byte ${at}`);
    }
    const record = data.subarray(space + 1, at + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new ErrTarInvalid(`a PAX record without a key at byte ${at}`);
    const key = record.subarray(0, eq).toString('utf8');
    records.set(key, record.subarray(eq + 1).toString('utf8'));
    if (xattrs !== undefined && key.startsWith(XATTR)) xattrs.set(key.slice(XATTR.length), record.subarray(eq + 1));
    at += len;
  }
  return records;
}

/** Extended headers waiting for the entry they describe. */
export interface Pending {
  pax?: Map<string, string>;
  /** The SCHILY.xattr.* values of `pax` as their bytes (decodePax), when it has any. */
  xattrs?: Map<string, Buffer>;
  longName?: string;
  longLink?: string;
}

/** Types of header that describe the next entry rather than being one. */
export function isExtended(type: string): boolean {
  return type === 'x' || type === 'g' || type === 'L' || type === 'K';
}

/** Extended headers are names and a few numbers: anything bigger is not a real archive. */
export const MAX_EXTENDED = 1024 * 1024;

/**
 * Takes in the data of an extended header. PAX global records are checked but not applied: a global
 * path or size would rename or resize every later entry; Go and tar-stream do not apply them either.
 */
export function absorb(pending: Pending, type: string, data: Buffer): void {
  if (type === 'x') {
    const xattrs = new Map<string, Buffer>();
    pending.pax = decodePax(data, xattrs);
    pending.xattrs = xattrs.size > 0 ? xattrs : undefined;
  }
  else if (type === 'g') decodePax(data);
  else {
    const text = data.toString('utf8').replace(/\0.*$/s, '');
    if (type === 'L') pending.longName = text;
    else pending.longLink = text;
  }
}

/** Types whose header never has data after it, whatever the size field says (as Go reads them). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

/** The largest time in seconds a Date holds (8.64e15 ms): the bound of every time the tar code takes or gives. */
export const MAX_MTIME_SECONDS = 8.64e12;

/** A decoded header with its extended headers applied. */
export type AppliedHeader = RawHeader & {
  pax?: Record<string, string>;
  /** SCHILY.xattr.NAME values as their bytes, keyed by NAME (pax has them as UTF-8 text). */
  xattrs?: Record<string, Buffer>;
};

/**
 * The entry `h` with the pending records applied (PAX path, linkpath, size, uid, gid, uname, gname,
 * mtime; GNU long names) and the size its data really has. Clears `pending`.
 */
export function applyPending(pending: Pending, h: RawHeader): AppliedHeader {
  const pax = pending.pax;
  const out: AppliedHeader = {
    ...h,
    name: pax?.get('path') ?? pending.longName ?? h.name,
    linkname: pax?.get('linkpath') ?? pending.longLink ?? h.linkname,
  };
  if (pax) {
    const number = (key: string): number | undefined => {
      const v = pax.get(key);
      if (v === undefined) return undefined;
      const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n)) throw new ErrTarInvalid(`the PAX ${key} record of ${JSON.stringify(out.name)} is not a number: ${JSON.stringify(v)}`);
      return n;
    };
    out.size = number('size') ?? out.size;
    out.uid = number('uid') ?? out.uid;
    out.gid = number('gid') ?? out.gid;
    // Seconds, negative or past 11 octal digits, with an optional fraction (GNU tar writes
    // nanoseconds): whole seconds are kept, as the ustar field holds them. A time past what a Date
    // holds (a file's own time on tmpfs or btrfs may be: Go reads any int64) is clamped to that
    // range, not refused; only a record that is not a number is.
    const mtime = pax.get('mtime');
    if (mtime !== undefined) {
      // Floor by the digits: Number('1700000000.999999999') rounds up to the next second.
      const m = /^(-?)([0-9]{1,30})(?:\.([0-9]*))?$/.exec(mtime);
      if (m === null) throw new ErrTarInvalid(`the PAX mtime record of ${JSON.stringify(out.name)} is not a time: ${JSON.stringify(mtime)}`);
      const seconds = m[1] === '-' ? -Number(m[2]) - (/[1-9]/.test(m[3] ?? '') ? 1 : 0) : Number(m[2]);
      out.mtime = Math.max(-MAX_MTIME_SECONDS, Math.min(MAX_MTIME_SECONDS, seconds));
    }
    out.uname = pax.get('uname') ?? out.uname;
    out.gname = pax.get('gname') ?? out.gname;
    out.pax = Object.fromEntries(pax);
    if (pending.xattrs) out.xattrs = Object.fromEntries(pending.xattrs);
  }
  if (HEADER_ONLY.has(h.type)) out.size = 0;
  pending.pax = undefined;
  pending.xattrs = undefined;
  pending.longName = undefined;
  pending.longLink = undefined;
  return out;
}

/** Whether records are waiting for an entry (an archive may not end there). */
export function hasPending(pending: Pending): boolean {
  return pending.pax !== undefined || pending.longName !== undefined || pending.longLink !== undefined;
}
