// What `fastlayer image` does, as one function the CLI calls with its parsed flags:
//   fastlayer image --layer DIR[:DEST] [--layer ...] [--base SRC] [--entrypoint JSON|STRING]
//     [--cmd JSON|STRING] [--env K=V]... [--workdir D] [--user U] [--label K=V]...
//     [--expose PORT[/PROTO]]... [--volume PATH]... [--stop-signal SIG] [--annotation K=V]...
//     [--author A] [--created TIME] [--health-cmd ...]
//     [--platform linux/amd64] [--exclude PATTERN]... [--mtime M] [--owner UID:GID]
//     [--compression gzip|zstd|none] [--level N] [--threads N]
//     --tag NAME[:TAG]... (--output FILE.tar | --oci-dir DIR | --push NAME)
import type { Writable } from 'node:stream';
import { Layer } from '../layer/layer.js';
import { resolveOptions, type LayerOptions } from '../layer/options.js';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../errors.js';
import { ErrImageFormat } from './errors.js';
import type { TarOptions } from '../tar/options.js';
import { loadBase, type BaseOptions } from './base.js';
import { setOwn, type Healthcheck } from './config.js';
import { directoryLayer, type DirectoryLayerOptions, type LayerSpec } from './dir-layer.js';
import { cachedLayers, resolveLayerCache } from './layer-cache.js';
import { Image, ImageIndex, type BaseImage } from './image.js';
import type { ImageFormat } from './manifest.js';
import { writeArchive } from './out/archive.js';
import { writeLayout } from './out/layout.js';
import { Reference } from './reference.js';
import type { Destination } from './types.js';
import { writeImage, type WriteProgress, type WriteResult } from './write.js';

export type { LayerSpec, DirectoryLayerOptions } from './dir-layer.js';

/**
 * The command's flags. The directory options (`exclude`, `dockerignore`, `mtime`, `owner`, `mode`,
 * `xattrs`, `keepWhiteoutFiles`) apply to every directory layer; a LayerSpec object may set its own
 * (see dir-layer.ts). Strings are taken as the CLI's flags give them (`mtime: 'clamp:1700000000'`).
 */
export interface BuildSpec extends DirectoryLayerOptions {
  /** `DIR` or `DIR:/DEST` strings (as --layer takes them), or objects. */
  layers: readonly (string | LayerSpec)[];
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
  layerOptions?: Pick<LayerOptions, 'compression' | 'compressionLevel' | 'threads' | 'engine'>;
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
   * that has it skips. Default off.
   */
  layerCache?: boolean | string;
}

/** `DIR` or `DIR:/DEST` (DEST must be absolute, so a directory name holding ':' stays whole). */
export function parseLayerArg(arg: string): LayerSpec {
  if (typeof arg !== 'string' || arg === '') throw new ErrInvalidOption('layer', 'DIR or DIR:DEST', arg);
  const colon = arg.lastIndexOf(':');
  if (colon > 0 && arg[colon + 1] === '/') return { dir: arg.slice(0, colon), dest: arg.slice(colon + 1) };
  return { dir: arg };
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

const LAYER_OPTION_KEYS = optionKeys<NonNullable<BuildSpec['layerOptions']>>({ compression: true, compressionLevel: true, threads: true, engine: true });

const SPEC_KEYS = optionKeys<BuildSpec>({
  layers: true, onSkip: true, base: true, baseOptions: true, entrypoint: true, cmd: true, env: true, workdir: true, user: true,
  labels: true, exposedPorts: true, volumes: true, stopSignal: true, healthcheck: true, author: true, created: true,
  platform: true, tags: true, output: true, ociDir: true, destination: true, format: true, compressionLevel: true,
  layerOptions: true, annotations: true, signal: true, onProgress: true, layerCache: true,
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
  if (spec.format === 'docker' && compression !== 'gzip') {
    throw new ErrImageFormat(`a Docker schema 2 manifest lists gzip layers only, not ${compression === 'zstd' ? 'zstd' : 'uncompressed'} ones; use format 'oci' or compression 'gzip'`);
  }
  return options;
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
  if (!Array.isArray(spec.tags) || spec.tags.length === 0) throw new ErrInvalidOption('tags', 'at least one NAME[:TAG]', spec.tags);
  const names = spec.tags.map((t) => Reference.parse(t).toString());
  if (!Array.isArray(spec.layers)) throw new ErrInvalidOption('layers', 'an array', spec.layers);
  if (spec.onSkip !== undefined && typeof spec.onSkip !== 'function') throw new ErrInvalidOption('onSkip', 'a function', spec.onSkip);
  // Every layer's options are checked (and .dockerignore files read) before a base is opened or a
  // byte written; the tar streams start only when the image is written.
  const dirLayers = [];
  for (const [i, l] of spec.layers.entries()) dirLayers.push(await directoryLayer(`layers[${i}]`, typeof l === 'string' ? parseLayerArg(l) : l, spec, spec.onSkip));
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
  const blobs = cache ? await cachedLayers(dirLayers, layerOptions, cache) : dirLayers.map((l) => new Layer(l.tar, layerOptions));
  const layers = dirLayers.map((l, i) => ({ layer: blobs[i]!, history: { created_by: `fastlayer image --layer DIR:${l.dest}` } }));
  const images = platforms.map((platform, i) => new Image({ ...config, base: bases[i], layers, platform }));
  const image = images.length === 1 ? images[0]! : new ImageIndex(images, { annotations });
  const options = { names, signal: spec.signal, onProgress: spec.onProgress };
  const result = await (spec.destination !== undefined
    ? writeImage(image, spec.destination, options)
    : spec.ociDir !== undefined ? writeLayout(image, spec.ociDir, options) : writeArchive(image, spec.output!, options));
  await cache?.settled();
  return result;
}
