// Directory layers of `fastlayer image`: the options an image builder gives a `--layer DIR[:DEST]`
// (exclude patterns, .dockerignore, mtime policy, owner, whiteouts), checked at the call and turned
// into tarDirectory options. Command-line strings (`--mtime clamp:1700000000`, `--owner 1000:1000`)
// are accepted as they are, so the CLI passes its flags through unchanged.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrInvalidOption, ErrOptionRange, ErrTarSource, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { parseRfc3339 } from '../core/time.js';
import { tarDirectory } from '../tar/directory.js';
import { sourceDateEpoch, type MtimePolicy, type TarOptions } from '../tar/options.js';
import { MAX_MTIME_SECONDS } from '../tar/header.js';
import { dockerignoreLines } from '../tar/patterns.js';
import { hasWhiteoutComponent, whiteoutDirectory } from '../tar/walker.js';

/** Options of a directory layer. On BuildSpec they apply to every layer; a LayerSpec's own win. */
export interface DirectoryLayerOptions {
  /**
   * `.dockerignore` patterns, relative to DIR. They come after the .dockerignore file's lines (the
   * last matching pattern wins, so `!pattern` here re-includes what the file excludes). A
   * LayerSpec's patterns come after BuildSpec's.
   */
  exclude?: readonly string[];
  /**
   * `true` (default): `DIR/.dockerignore` is honoured when it exists, as `docker build` does for its
   * context; the file itself stays in the layer unless it lists itself. `false`: not read. A path:
   * that file is read instead (relative to the working directory).
   */
  dockerignore?: boolean | string;
  /**
   * `'keep'`, seconds since the epoch, an RFC 3339 time, `'clamp:TIME'` (TIME in seconds or RFC 3339),
   * or a tarDirectory MtimePolicy. Default (reproducible, see defaultMtime): clamp to
   * SOURCE_DATE_EPOCH when set, else 0 (1970-01-01). `'keep'` records the files' own times.
   */
  mtime?: MtimePolicy | string;
  /** `'UID[:GID]'` (numeric; GID defaults to UID, as Docker's --chown), `{ uid, gid }`, or `'keep'`. Default 0:0. */
  owner?: string | { uid: number; gid: number };
  /** Mode overrides, as tarDirectory takes them. */
  mode?: TarOptions['mode'];
  /** Record extended attributes (tarDirectory `xattrs`). */
  xattrs?: boolean;
  /** Write files of DIR named `.wh.*` as they are (whiteouts to every image tool); default: refused. */
  keepWhiteoutFiles?: boolean;
}

export interface LayerSpec extends DirectoryLayerOptions {
  dir: string;
  /** Absolute image path where the directory's contents go (default `/`). */
  dest?: string;
  /** Image paths this layer deletes from the layers below (`.wh.NAME` entries). */
  whiteouts?: readonly string[];
  /** Image directories whose content from the layers below this layer hides (`.wh..wh..opq`). */
  opaqueDirs?: readonly string[];
  /**
   * Only the paths of DIR these patterns match (.dockerignore syntax, without '!'), with everything
   * below them; `exclude` and the .dockerignore then leave paths out of those, and no '!' line of
   * theirs takes back a path these leave out (tarDirectory `include`). Default: every path.
   */
  include?: readonly string[];
}

const LAYER_SPEC_KEYS = optionKeys<LayerSpec>({
  dir: true, dest: true, whiteouts: true, opaqueDirs: true, include: true,
  exclude: true, dockerignore: true, mtime: true, owner: true, mode: true, xattrs: true, keepWhiteoutFiles: true,
});

/** A .dockerignore larger than this is not a list of patterns: refused rather than read whole. */
const MAX_DOCKERIGNORE = 1024 * 1024;

function time(name: string, text: string): number | Date {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (!(n <= MAX_MTIME_SECONDS)) throw new ErrOptionRange(name, 'whole seconds since the epoch, up to 8.64e12', text);
    return n;
  }
  const ms = parseRfc3339(text);
  if (!Number.isFinite(ms) || ms < 0) throw new ErrOptionRange(name, 'seconds since the epoch or an RFC 3339 time from 1970', text);
  return new Date(ms);
}

/**
 * The entry times of a directory layer when none is asked for: clamped to SOURCE_DATE_EPOCH when it
 * is set (as BuildKit does), else all 0, the Unix epoch, as ko does and as the image's `created`
 * already is. A checkout or `npm ci` gives every file a new mtime, so keeping them would give the same
 * tree a new layer digest on every run (a new upload, a cache miss); `'keep'` is still there to ask.
 */
export function defaultMtime(env: NodeJS.ProcessEnv = process.env): MtimePolicy {
  const sde = sourceDateEpoch(env);
  return sde === undefined ? 0 : { clamp: sde };
}

/** `--mtime`: 'keep', SECONDS, RFC 3339, 'clamp:TIME'; other values are tarDirectory's to check. */
export function parseMtimeArg(value: MtimePolicy | string, name = 'mtime'): MtimePolicy {
  if (typeof value !== 'string' || value === 'keep') return value as MtimePolicy;
  if (value.startsWith('clamp:')) return { clamp: time(name, value.slice(6)) };
  try {
    return time(name, value);
  } catch (err) {
    if (/^\d+$/.test(value)) throw err; // seconds out of range: that error says so
    throw new ErrOptionRange(name, "'keep', seconds, an RFC 3339 time or clamp:TIME", value);
  }
}

/** `--owner`: 'UID[:GID]' or 'keep'. Names are refused: they would need the image's /etc/passwd. */
export function parseOwnerArg(value: string | { uid: number; gid: number }, name = 'owner'): Pick<TarOptions, 'owner' | 'keepOwner'> {
  if (typeof value !== 'string') return { owner: value };
  if (value === 'keep') return { keepOwner: true };
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) throw new ErrOptionRange(name, "numeric UID[:GID] or 'keep' (user names would need the image's /etc/passwd)", value);
  const uid = Number(m[1]);
  const gid = Number(m[2] ?? m[1]);
  // ustar's 8-byte octal fields and PAX records hold more, but no Linux id exceeds 32 bits.
  if (uid > 0xffffffff || gid > 0xffffffff) throw new ErrOptionRange(name, 'ids below 2^32', value);
  return { owner: { uid, gid } };
}

/**
 * DEST of `DIR:DEST`: absolute, no '..' or NUL, and no component named `.wh.*` unless
 * `keepWhiteoutFiles` (the layer's directories there would be whiteouts to every image tool:
 * `/.wh.etc` deletes the lower /etc). Returns the clean form ('/app'), '/' for the root.
 */
export function cleanDest(name: string, value: unknown, keepWhiteoutFiles = false): string {
  if (typeof value !== 'string') throw new ErrInvalidOption(name, 'an absolute image path string', value);
  if (!value.startsWith('/')) throw new ErrOptionRange(name, 'an absolute image path (starting with /)', value);
  const parts = value.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || value.includes('\0')) throw new ErrOptionRange(name, "an image path without '..' or NUL", value);
  if (!keepWhiteoutFiles && hasWhiteoutComponent(value)) throw whiteoutDirectory(name, value);
  return `/${parts.join('/')}`;
}

function patterns(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ErrInvalidOption(name, 'an array of strings', value);
  return [...(value as string[])];
}

/**
 * The lines of a .dockerignore. `DIR/.dockerignore` found by default is opened without following a
 * symlink (the tree may be anyone's: a link to another file is refused, not read) and without
 * blocking (a FIFO of that name is refused, not waited on). A file the caller names is opened as given.
 */
async function readDockerignore(path: string, implicit: boolean): Promise<string[] | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (implicit ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No .dockerignore, or DIR itself missing or not a directory (tarDirectory reports that).
    if (implicit && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    const why = implicit && code === 'ELOOP' ? 'a symlink (pass dockerignore: PATH to read it, or false)' : (err as Error).message;
    throw new ErrTarSource(`cannot read ${path}: ${why}`, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ErrTarSource(`cannot read ${path}: not a regular file`);
    if (st.size > MAX_DOCKERIGNORE) throw new ErrTarSource(`cannot read ${path}: ${st.size} bytes, more than the ${MAX_DOCKERIGNORE} a .dockerignore may have`);
    // Byte-exact lines, as Docker reads them (names that are not UTF-8 still match).
    return dockerignoreLines(await handle.readFile());
  } catch (err) {
    if (err instanceof ErrTarSource) throw err;
    throw new ErrTarSource(`cannot read ${path}: ${(err as Error).message}`, err);
  } finally {
    await handle.close();
  }
}

export interface DirectoryLayer {
  /** The tar stream, not started yet; its options are already checked. */
  tar: AsyncGenerator<Buffer>;
  /** Clean absolute destination ('/' or '/app'). */
  dest: string;
  /** The directory on disk whose tree the tar holds. */
  root: string;
  /** The .dockerignore patterns the tar leaves out (the file's lines, then the options'). */
  exclude: readonly string[];
  /** The layer's `include` patterns (empty: every path), applied beside `exclude`. */
  include: readonly string[];
  /** A fresh tar stream of the same tree and options, per call (a layer cache reads the tree twice). */
  open: () => AsyncGenerator<Buffer>;
}

/**
 * Checks a layer's options (with the build's defaults under them) and returns its tar stream.
 * `where` names the layer in errors (`layers[1]`). Throws ErrInvalidOption / ErrOptionRange for
 * options and ErrTarSource for a .dockerignore that cannot be read; the tree itself is read later.
 */
export async function directoryLayer(
  where: string, layer: LayerSpec, defaults: DirectoryLayerOptions, onSkip?: TarOptions['onSkip'],
): Promise<DirectoryLayer> {
  if (typeof layer !== 'object' || layer === null) throw new ErrInvalidOption(where, 'DIR[:DEST] or { dir, dest, ... }', layer);
  refuseUnknownOptions(layer, LAYER_SPEC_KEYS, 'a directory layer', `${where}.`);
  const dir = layer.dir;
  if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) throw new ErrInvalidOption(`${where}.dir`, 'a non-empty path string', dir);
  const keepWhiteoutFiles = layer.keepWhiteoutFiles ?? defaults.keepWhiteoutFiles;
  const dest = layer.dest === undefined ? '/' : cleanDest(`${where}.dest`, layer.dest, keepWhiteoutFiles === true);

  const di = layer.dockerignore ?? defaults.dockerignore ?? true;
  let ignoreLines: string[] | undefined;
  if (di === true) ignoreLines = await readDockerignore(join(dir, '.dockerignore'), true);
  else if (typeof di === 'string' && di !== '') ignoreLines = await readDockerignore(di, false);
  else if (di !== false) throw new ErrInvalidOption(`${where}.dockerignore`, 'a boolean or a path', di);
  const exclude = [...(ignoreLines ?? []), ...patterns('exclude', defaults.exclude), ...patterns(`${where}.exclude`, layer.exclude)];
  const include = patterns(`${where}.include`, layer.include);

  const mtime = layer.mtime ?? defaults.mtime;
  const owner = layer.owner ?? defaults.owner;
  const mode = layer.mode ?? defaults.mode;
  const xattrs = layer.xattrs ?? defaults.xattrs;
  const options: TarOptions = {
    ...(dest === '/' ? {} : { prefix: dest }),
    ...(exclude.length === 0 ? {} : { exclude }),
    ...(include.length === 0 ? {} : { include }),
    mtime: mtime === undefined ? defaultMtime() : parseMtimeArg(mtime, layer.mtime === undefined ? 'mtime' : `${where}.mtime`),
    ...(owner === undefined ? {} : parseOwnerArg(owner, layer.owner === undefined ? 'owner' : `${where}.owner`)),
    ...(mode === undefined ? {} : { mode }),
    ...(xattrs === undefined ? {} : { xattrs }),
    ...(keepWhiteoutFiles === undefined ? {} : { keepWhiteoutFiles }),
    ...(layer.whiteouts === undefined ? {} : { whiteouts: patterns(`${where}.whiteouts`, layer.whiteouts) }),
    ...(layer.opaqueDirs === undefined ? {} : { opaqueDirs: patterns(`${where}.opaqueDirs`, layer.opaqueDirs) }),
    ...(onSkip === undefined ? {} : { onSkip }),
  };
  // tarDirectory checks the rest at the call (owner ids, mtime values, whiteout conflicts).
  return { tar: tarDirectory(dir, options), dest, root: dir, exclude, include, open: () => tarDirectory(dir, options) };
}
