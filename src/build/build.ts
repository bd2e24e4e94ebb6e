// What `fastlayer image` does, as one function the CLI calls with its parsed flags:
//   fastlayer image --layer DIR[:DEST] [--layer ...] [--base SRC] [--entrypoint JSON|STRING]
//     [--cmd JSON|STRING] [--env K=V]... [--workdir D] [--user U] [--label K=V]...
//     [--expose PORT[/PROTO]]... [--volume PATH]... [--stop-signal SIG] [--annotation K=V]...
//     [--author A] [--created TIME] [--health-cmd ...]
//     [--platform linux/amd64] [--exclude PATTERN]... [--mtime M] [--owner UID:GID]
//     [--compression gzip|zstd|none|estargz] [--estargz-chunk-size N] [--estargz-prioritize FILE]...
//     [--level N] [--threads N]
//     --tag NAME[:TAG]... (--output FILE.tar | --oci-dir DIR | --push NAME)
import type { Writable } from 'node:stream';
import { Layer } from '../layer/layer.js';
import { resolveOptions, type LayerOptions } from '../layer/options.js';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { ErrImageFormat } from '../image/errors.js';
import type { TarOptions } from '../tar/options.js';
import { loadBase, type BaseOptions } from './base.js';
import { setOwn, type Healthcheck } from '../image/config.js';
import { directoryLayer, type DirectoryLayerOptions, type LayerSpec, type DirectoryLayer } from './dir-layer.js';
import { cachedLayers, resolveLayerCache } from './layer-cache.js';
import { prepareCache } from './cache-use.js';
import type { RegistryLayerCacheOptions } from './registry-cache.js';
import { Image, ImageIndex, type BaseImage } from '../image/image.js';
import type { ImageFormat } from '../image/manifest.js';
import { writeArchive } from '../archive/archive.js';
import { writeLayout } from '../layout/layout.js';
import { Reference } from '../image/reference.js';
import type { Destination, Blob } from '../image/types.js';
import { writeImage, type WriteProgress, type WriteResult } from '../image/write.js';
import { lstat, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanName } from '../estargz/options.js';
import { layerMatcher } from '../tar/patterns.js';
import { tarFileLayer } from '../image/tar-layer.js';
import type { ReferrerContent } from '../image/referrer.js';
import { generateSbom, SPDX_MEDIA_TYPE, type SbomOptions } from './sbom.js';

export type { LayerSpec, DirectoryLayerOptions } from './dir-layer.js';

/**
 * A tar file made by another tool, as one layer (plain, gzip or zstd, told by its magic bytes). Its
 * entries keep the paths they have; the directory options do not apply to it.
 */
export interface TarLayerSpec {
  tar: string;
}

/**
 * The command's flags. The directory options (`exclude`, `dockerignore`, `mtime`, `owner`, `mode`,
 * `xattrs`, `keepWhiteoutFiles`) apply to every directory layer; a LayerSpec object may set its own
 * (see dir-layer.ts). Strings are taken as the CLI's flags give them (`mtime: 'clamp:1700000000'`).
 */
export interface BuildSpec extends DirectoryLayerOptions {
  /**
   * `DIR`, `DIR:/DEST` or `FILE.tar` strings (as --layer takes them: a path that is a regular file is
   * a tar layer), or objects.
   */
  layers: readonly (string | LayerSpec | TarLayerSpec)[];
  /** Called for entries a directory layer cannot hold (sockets), with their path on disk. */
  onSkip?: TarOptions['onSkip'];
  base?: string;
  baseOptions?: BaseOptions;
  /** A JSON array (exec form) or one string, taken as a single argument as `docker run --entrypoint` does. */
  entrypoint?: string | readonly string[];
  cmd?: string | readonly string[];
  /** `K=V` strings. */
  env?: readonly string[];
  /** Same name as `--workdir` and Image's `workdir` (one name per setting). */
  workdir?: string;
  user?: string;
  /** `K=V` strings or a record. */
  labels?: readonly string[] | Readonly<Record<string, string>>;
  /** `80`, `80/tcp`, `53/udp`, `9000/sctp` (`--expose`). */
  exposedPorts?: readonly string[];
  /** Absolute container paths (`--volume`). */
  volumes?: readonly string[];
  /** `SIGTERM`, `SIGRTMIN+3`, `9` (`--stop-signal`). */
  stopSignal?: string;
  healthcheck?: Healthcheck | null;
  /** The config's `author` (`--author`). */
  author?: string;
  /** The config's `created` (`--created`); default SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z. */
  created?: Date | string | number;
  /** `os/arch[/variant]`, or several separated by commas for a multi-platform index. */
  platform?: string;
  /**
   * Image names (`app:1` is `docker.io/library/app:1`), at least one. With a RegistryDestination: more
   * tags of its repository, a bare tag (`latest`) or a name in it; none needed; another repository is
   * ErrTagRepository, before anything is written.
   */
  tags: readonly string[];
  /** Archive file (or a writable stream, staged through a temp file). */
  output?: string | Writable;
  /** OCI layout directory. */
  ociDir?: string;
  /**
   * Any Destination (a RegistryDestination for a push straight to a registry): the image is streamed
   * into it, nothing staged. Exactly one of output, ociDir and destination.
   */
  destination?: Destination;
  format?: ImageFormat;
  /** Same as layerOptions.compressionLevel (giving both with different values is refused). */
  compressionLevel?: number;
  /**
   * Layer options of every directory layer (base layers are reused as they are). zstd and none need
   * format 'oci': a Docker schema 2 manifest lists gzip layers only (ERR_IMAGE_FORMAT, before any I/O).
   */
  layerOptions?: Pick<LayerOptions, 'compression' | 'compressionLevel' | 'threads' | 'engine' | 'estargz'>;
  /**
   * `K=V` strings or a record (`--annotation`): on the image manifest, and on the index too when
   * several platforms make one. OCI format only.
   */
  annotations?: readonly string[] | Readonly<Record<string, string>>;
  signal?: AbortSignal;
  onProgress?: (event: WriteProgress) => void;
  /**
   * Layer digest cache (layer-cache.ts, docs/IMAGES.md): `true` for the default directory, or a
   * directory. Each tree is hashed first; a tree seen before becomes a known blob, which a registry
   * that has it skips. Default off here (the CLI's default is on). With a destination, every hit is
   * HEAD-checked there first: a digest it lacks is not referenced, the layer is compressed again.
   */
  layerCache?: boolean | string;
  /**
   * A registry repository (`REG/team/cache`) holding a layer cache shared by every runner
   * (registry-cache.ts, docs/REGISTRY.md): read before the layers are hashed, merged and written after
   * the push. Needs a destination.
   */
  cacheRepo?: string;
  /** The cache repository's registry options (credentials for its registry only). */
  cacheRepoOptions?: RegistryLayerCacheOptions;
  /** A cache repository that could not be read or written: reported here, the build goes on. */
  onCacheError?: (err: unknown) => void;
  /**
   * Attach an SPDX 2.3 SBOM of a Node project (sbom.ts, docs/SBOM.md) to the image as an OCI 1.1
   * referrer: the project directory (its package-lock.json, lockfile version 2 or 3), or that and
   * the document's `created` time. Made before anything is written: a project without a usable
   * lockfile is ErrSbomLockfile, and no image is written.
   */
  sbom?: string | SbomSpec;
}

export interface SbomSpec extends SbomOptions {
  dir: string;
}

/** The referrer content of `spec.sbom`: the SBOM's bytes as application/spdx+json. */
export async function sbomReferrer(sbom: string | SbomSpec): Promise<ReferrerContent> {
  const given = typeof sbom === 'string' ? { dir: sbom } : sbom;
  if (typeof given !== 'object' || given === null) throw new ErrInvalidOption('sbom', 'a project directory or { dir, created }', sbom);
  const { dir, ...options } = given;
  const { bytes } = await generateSbom(dir, options);
  return { mediaType: SPDX_MEDIA_TYPE, artifactType: SPDX_MEDIA_TYPE, bytes };
}

/** `DIR` or `DIR:/DEST` (DEST must be absolute, so a directory name holding ':' stays whole). */
export function parseLayerArg(arg: string): LayerSpec {
  if (typeof arg !== 'string' || arg === '') throw new ErrInvalidOption('layer', 'DIR or DIR:DEST', arg);
  const colon = arg.lastIndexOf(':');
  if (colon > 0 && arg[colon + 1] === '/') return { dir: arg.slice(0, colon), dest: arg.slice(colon + 1) };
  return { dir: arg };
}

/** Whether `path` is a regular file (a tar layer) rather than a directory; a missing path is left to tarDirectory. */
async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

type Planned = { kind: 'dir'; dir: DirectoryLayer } | { kind: 'tar'; path: string };

/** A layer argument as a directory layer (options checked) or a tar file path. */
async function planLayer(where: string, layer: string | LayerSpec | TarLayerSpec, spec: BuildSpec): Promise<Planned> {
  if (typeof layer === 'object' && layer !== null && 'tar' in layer) {
    if (typeof layer.tar !== 'string' || layer.tar === '' || layer.tar.includes('\0')) throw new ErrInvalidOption(`${where}.tar`, 'a non-empty path string', layer.tar);
    return { kind: 'tar', path: layer.tar };
  }
  const parsed = typeof layer === 'string' ? parseLayerArg(layer) : layer;
  if (typeof layer === 'string' && (await isFile(parsed.dir))) {
    if (parsed.dest !== undefined) throw new ErrOptionRange(where, 'FILE.tar without :DEST (a tar layer keeps the paths its entries have)', layer);
    return { kind: 'tar', path: parsed.dir };
  }
  return { kind: 'dir', dir: await directoryLayer(where, parsed, spec, spec.onSkip) };
}

/** A JSON array of strings, else the whole string as one argument. */
export function parseCommand(name: string, value: string | readonly string[]): string[] {
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string')) throw new ErrInvalidOption(name, 'an array of strings', value);
    return [...value];
  }
  if (typeof value !== 'string') throw new ErrInvalidOption(name, 'a JSON array of strings or a string', value);
  if (value.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ErrOptionRange(name, 'a valid JSON array of strings', value);
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) throw new ErrOptionRange(name, 'a JSON array of strings', value);
    return parsed;
  }
  return [value];
}

function pairs(name: string, value: readonly string[] | Readonly<Record<string, string>>): Record<string, string> {
  if (typeof value !== 'object' || value === null) throw new ErrInvalidOption(name, 'K=V strings or an object of strings', value);
  if (!Array.isArray(value)) return { ...(value as Record<string, string>) };
  const out: Record<string, string> = {};
  for (const kv of value as readonly string[]) {
    const eq = typeof kv === 'string' ? kv.indexOf('=') : -1;
    if (eq <= 0) throw new ErrOptionRange(name, 'K=V', kv);
    // `--label __proto__=x` is a label like any other, not a prototype to set.
    setOwn(out, kv.slice(0, eq), kv.slice(eq + 1));
  }
  return out;
}

const LAYER_OPTION_KEYS = optionKeys<NonNullable<BuildSpec['layerOptions']>>({ compression: true, compressionLevel: true, threads: true, engine: true, estargz: true });

const SPEC_KEYS = optionKeys<BuildSpec>({
  layers: true, onSkip: true, base: true, baseOptions: true, entrypoint: true, cmd: true, env: true, workdir: true, user: true,
  labels: true, exposedPorts: true, volumes: true, stopSignal: true, healthcheck: true, author: true, created: true,
  platform: true, tags: true, output: true, ociDir: true, destination: true, format: true, compressionLevel: true,
  layerOptions: true, annotations: true, signal: true, onProgress: true, layerCache: true, cacheRepo: true, cacheRepoOptions: true, onCacheError: true, sbom: true,
  exclude: true, dockerignore: true, mtime: true, owner: true, mode: true, xattrs: true, keepWhiteoutFiles: true,
});

/** The directory layers' Layer options (signal aside), checked with the Layer's own rules. */
function directoryLayerOptions(spec: BuildSpec): Omit<LayerOptions, 'signal'> {
  const given = spec.layerOptions ?? {};
  refuseUnknownOptions(given, LAYER_OPTION_KEYS, 'buildImage({ layerOptions })', 'layerOptions.');
  const options: Omit<LayerOptions, 'signal'> = { ...given };
  if (spec.compressionLevel !== undefined) {
    if (given.compressionLevel !== undefined && given.compressionLevel !== spec.compressionLevel) {
      throw new ErrInvalidOption('compressionLevel', `the same as layerOptions.compressionLevel (${given.compressionLevel}) or absent`, spec.compressionLevel);
    }
    options.compressionLevel = spec.compressionLevel;
  }
  // Range and type errors (a zstd level of 0, 40 threads) now, not when the first layer starts.
  resolveOptions(options);
  const compression = options.compression ?? 'gzip';
  // An eStargz blob is a gzip layer (its media type is gzip's): Docker manifests list it too.
  if (spec.format === 'docker' && compression !== 'gzip' && compression !== 'estargz') {
    throw new ErrImageFormat(`a Docker schema 2 manifest lists gzip layers only, not ${compression === 'zstd' ? 'zstd' : 'uncompressed'} ones; use format 'oci' or compression 'gzip'`);
  }
  return options;
}

function layerSource(l: BuildSpec['layers'][number]): string {
  if (typeof l === 'string') return parseLayerArg(l).dir;
  return 'tar' in l ? l.tar : l.dir;
}

/**
 * An eStargz directory layer's options with only the prioritised files its tree holds (`--estargz-
 * prioritize` names image paths, and each layer holds some of them or none): the writer would
 * otherwise hold the whole stream looking for a file that is in another layer. A layer with none
 * of them starts with the no-prefetch landmark.
 */
async function ownPrioritized(dir: DirectoryLayer, options: LayerOptions): Promise<LayerOptions> {
  const wanted = options.estargz?.prioritize;
  if (options.compression !== 'estargz' || wanted === undefined || wanted.length === 0) return options;
  const under = dir.dest === '/' ? '' : `${dir.dest.slice(1)}/`;
  const matcher = layerMatcher(dir.exclude, dir.include);
  const own: string[] = [];
  for (const name of wanted) {
    const clean = cleanName(name);
    if (!clean.startsWith(under)) continue;
    const rel = clean.slice(under.length);
    // In the tree and not left out of the tar (the dependency layer of `fastlayer node` excludes the code).
    if (matcher?.excluded(rel)) continue;
    const st = await lstat(join(dir.root, rel)).catch(() => undefined);
    if (st !== undefined) own.push(name);
  }
  return { ...options, estargz: { ...options.estargz, prioritize: own } };
}

/** A layer that streams, named for progress by its place and directory (see StreamingBlob.label). */
function labelled(blob: Layer | Blob, label: string): Layer | Blob {
  if (blob instanceof Layer) return { kind: 'streaming', layer: blob, label };
  return blob.kind === 'streaming' ? { ...blob, label } : blob;
}

export async function buildImage(spec: BuildSpec): Promise<WriteResult> {
  if (typeof spec !== 'object' || spec === null) throw new ErrInvalidOption('spec', 'an object', spec);
  refuseUnknownOptions(spec, SPEC_KEYS, 'buildImage()');
  const outputs = [spec.output, spec.ociDir, spec.destination].filter((o) => o !== undefined).length;
  if (outputs !== 1) throw new ErrInvalidOption('output', 'exactly one of output, ociDir and destination', spec.output ?? spec.ociDir ?? spec.destination);
  if (spec.destination !== undefined && (typeof spec.destination !== 'object' || spec.destination === null || typeof spec.destination.writeBlob !== 'function')) {
    throw new ErrInvalidOption('destination', 'a Destination', spec.destination);
  }
  const layerOptions = { ...directoryLayerOptions(spec), ...(spec.signal ? { signal: spec.signal } : {}) };
  // A destination with names of its own (a registry: its reference's tag) may take none; the others
  // need one. It resolves them now (a registry reads `latest` as its own tag, refuses other
  // repositories), before a base is opened or a byte written.
  const resolves = typeof spec.destination?.resolveNames === 'function';
  if (!Array.isArray(spec.tags) || (spec.tags.length === 0 && !resolves)) throw new ErrInvalidOption('tags', 'at least one NAME[:TAG]', spec.tags);
  const names = resolves ? spec.destination!.resolveNames!(spec.tags) : spec.tags.map((t) => Reference.parse(t).toString());
  if (!Array.isArray(spec.layers)) throw new ErrInvalidOption('layers', 'an array', spec.layers);
  if (spec.onSkip !== undefined && typeof spec.onSkip !== 'function') throw new ErrInvalidOption('onSkip', 'a function', spec.onSkip);
  // Every layer's options are checked (and .dockerignore files read) before a base is opened or a
  // byte written; the tar streams start only when the image is written.
  const referrers = spec.sbom === undefined ? [] : [await sbomReferrer(spec.sbom)];
  const planned: Planned[] = [];
  for (const [i, l] of spec.layers.entries()) planned.push(await planLayer(`layers[${i}]`, l, spec));
  // `linux/amd64,linux/arm64`: one image per platform sharing the directory layers (written once),
  // each on the base's image for that platform, under one index.
  if (spec.platform !== undefined && typeof spec.platform !== 'string') throw new ErrInvalidOption('platform', 'a string os/arch[/variant][,...]', spec.platform);
  const platforms = spec.platform === undefined ? [undefined] : spec.platform.split(',').map((p) => p.trim());
  const annotations = spec.annotations === undefined ? undefined : pairs('annotations', spec.annotations);
  const config = {
    format: spec.format,
    annotations,
    entrypoint: spec.entrypoint === undefined ? undefined : parseCommand('entrypoint', spec.entrypoint),
    cmd: spec.cmd === undefined ? undefined : parseCommand('cmd', spec.cmd),
    env: spec.env === undefined ? undefined : pairs('env', spec.env),
    workdir: spec.workdir,
    user: spec.user,
    labels: spec.labels === undefined ? undefined : pairs('labels', spec.labels),
    exposedPorts: spec.exposedPorts,
    volumes: spec.volumes,
    stopSignal: spec.stopSignal,
    healthcheck: spec.healthcheck,
    author: spec.author,
    created: spec.created,
  };
  const bases: (BaseImage | undefined)[] = [];
  for (const platform of platforms) bases.push(spec.base === undefined ? undefined : await loadBase(spec.base, { ...spec.baseOptions, ...(platform === undefined ? {} : { platform }) }));
  // The history names no local path: the same tree elsewhere must give the same image digest.
  // Layer cache hook (repush, layer-cache.ts): off unless asked.
  const cache = spec.layerCache === undefined || spec.layerCache === false ? undefined : resolveLayerCache(spec.layerCache);
  const prepared = await prepareCache(spec);
  const dirLayers = planned.flatMap((p) => (p.kind === 'dir' ? [p.dir] : []));
  const cached = cache !== undefined || prepared.use.shared !== undefined;
  const dirOptions = await Promise.all(dirLayers.map((l) => ownPrioritized(l, layerOptions)));
  const dirBlobs = cached
    ? await cachedLayers(dirLayers.map((l, i) => ({ open: l.open, options: dirOptions[i]! })), layerOptions, cache, prepared.use)
    : dirLayers.map((l, i) => new Layer(l.tar, dirOptions[i]!));
  // Tar files are checked here, in order, before anything is written (a reused one is read whole).
  // Each layer is named for progress by its place and source (StreamingBlob.label).
  const layers: { layer: Layer | Blob; history: { created_by: string } }[] = [];
  let d = 0;
  for (const [i, p] of planned.entries()) {
    const label = `layer ${i + 1} (${layerSource(spec.layers[i]!)})`;
    if (p.kind === 'dir') layers.push({ layer: labelled(dirBlobs[d++]!, label), history: { created_by: `fastlayer image --layer DIR:${p.dir.dest}` } });
    else layers.push({ layer: labelled(await tarFileLayer(p.path, layerOptions), label), history: { created_by: 'fastlayer image --layer FILE.tar' } });
  }
  const images = platforms.map((platform, i) => new Image({ ...config, base: bases[i], layers, platform }));
  const image = images.length === 1 ? images[0]! : new ImageIndex(images, { annotations });
  const options = { names, signal: spec.signal, onProgress: spec.onProgress, ...(referrers.length > 0 ? { referrers } : {}) };
  let result;
  try {
    result = await (prepared.destination !== undefined
      ? writeImage(image, prepared.destination, options)
      : spec.ociDir !== undefined ? writeLayout(image, spec.ociDir, options) : writeArchive(image, spec.output!, options));
  } finally {
    // Also after a failed write: the removal of an entry it proved wrong must be done before the CLI exits.
    await cache?.settled();
  }
  await prepared.finish();
  return result;
}
