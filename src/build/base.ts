// Base images: an OCI image layout directory, an OCI archive, or a docker-save archive (with or
// without Docker 25's OCI layout inside), or an image in a registry (registry/base.ts; which one a
// string names is base-source.ts's rule). A local one is read through its ImageSource: a layout or
// OCI archive's (src/layout/source.ts), a docker-save one's (src/layout/docker-save.ts), both on the
// one store (src/layout/store.ts). The config is inherited; the layers are reused by digest as the
// source's known blobs (the layout file or the archive's byte range), never recompressed. An
// uncompressed layer (docker save writes them) is either compressed once by a Layer ('compress', the
// default: registries and Docker expect gzip) or kept as an uncompressed OCI layer ('keep').
import { Layer } from '../layer/layer.js';
import type { LayerOptions } from '../layer/options.js';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { OCI_LAYER_UNCOMPRESSED } from '../core/media-types.js';
import { openStore, type LayoutStore, type StoreErrors } from '../layout/store.js';
import { storeSource, type SourceErrors } from '../layout/source.js';
import { dockerSaveSource, readDockerSave } from '../layout/docker-save.js';
import { parseIndex, parseManifest, type ImageSource } from '../image/source.js';
import { registryBase } from '../registry/base.js';
import type { RegistryOptions } from '../registry/client.js';
import { resolveBaseSource } from '../image/base-source.js';
import type { ConfigJSON } from '../image/config.js';
import { ErrBaseImage, ErrUnsafeArchivePath } from '../image/errors.js';
import { ErrDigestMismatch } from '../core/errors.js';
import { parseJSON } from '../image/json.js';
import type { BaseImage } from '../image/image.js';
import { isIndexType, isManifestType, isUncompressedLayer } from '../core/media-types.js';
import { basePlatform, checkBasePlatform, describePlatform, parsePlatform, pickPlatform } from '../image/platform.js';
import { CONTAINERD_NAME, namedEntries, REF_NAME } from '../image/names.js';
import type { Blob, Descriptor, KnownBlob, Platform } from '../image/types.js';
import { DIGEST_PATTERN as DIGEST } from '../core/hash.js';

export interface BaseOptions {
  /** Which image of a layout or archive holding several: a name (`app:1`, `docker.io/library/app:1`) or a tag. */
  name?: string;
  /** Which image of a multi-platform index (default linux/amd64). */
  platform?: string | Platform;
  /** Uncompressed layers: 'compress' once with a Layer (default) or 'keep' as uncompressed OCI layers. */
  uncompressed?: 'compress' | 'keep';
  /** Options of the Layers that compress uncompressed layers. */
  layerOptions?: Omit<LayerOptions, 'mediaType' | 'compression'>;
  /** A registry base's transport, credentials (sent to that registry only), timeouts and signal. */
  registry?: RegistryOptions;
}

const BASE_KEYS = optionKeys<BaseOptions>({ name: true, platform: true, uncompressed: true, layerOptions: true, registry: true });

/** Largest JSON document (index, manifest, config) read into memory. */
const MAX_JSON = 16 * 1024 * 1024;

const STORE_ERRORS: StoreErrors = {
  invalid: (message, cause) => new ErrBaseImage(message, cause),
  unsafe: (where, name) => new ErrUnsafeArchivePath(where, name),
};

const SOURCE_ERRORS: SourceErrors = { invalid: STORE_ERRORS.invalid, missing: (message) => new ErrBaseImage(message) };

// index.json, indexes and manifests are read by source.ts's parsers, as every other reader of images
// reads them: a document that is JSON but not an object (null, an array, a number), a missing list
// or a malformed descriptor is ERR_BASE_IMAGE naming the document, never a TypeError further on.
const fail = (message: string): ErrBaseImage => new ErrBaseImage(message);

/** The entries of an index of the source, read through it (digest and size checked). */
async function childIndex(source: ImageSource, d: Descriptor): Promise<Descriptor[]> {
  return parseIndex((await source.manifest(d)).bytes, `${source.where}: index ${d.digest}`, fail);
}

/** The config: canonical JSON's reader (the config is written again), and an object. */
function configDocument(bytes: Buffer, where: string, d: Descriptor): ConfigJSON {
  let value: unknown;
  try {
    value = parseJSON(bytes);
  } catch (err) {
    throw new ErrBaseImage(`${where}: config ${d.digest} is not valid JSON: ${(err as Error).message}`, err);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ErrBaseImage(`${where}: config ${d.digest} is not a JSON object`);
  return value as ConfigJSON;
}

/** The config, read through the ImageSource's blob (bounded, verified as it streams). */
async function verifiedConfig(source: ImageSource, checked: Descriptor): Promise<ConfigJSON> {
  if (checked.size > MAX_JSON) throw new ErrBaseImage(`${source.where}: config ${checked.digest} is larger than ${MAX_JSON} bytes`);
  const chunks: Buffer[] = [];
  try {
    for await (const c of (await source.blob(checked)).open()) chunks.push(c as Buffer);
  } catch (err) {
    if (err instanceof ErrDigestMismatch) throw new ErrBaseImage(`${source.where}: ${err.message}`, err);
    throw err;
  }
  return configDocument(Buffer.concat(chunks), source.where, checked);
}

function pickOne<T>(items: T[], source: string, what: string, describe: (t: T) => string): T {
  if (items.length === 1) return items[0]!;
  if (items.length === 0) throw new ErrBaseImage(`${source}: no ${what}`);
  throw new ErrBaseImage(`${source}: several ${what} (${items.map(describe).join(', ')}); choose one with the name option (the CLI's --base-name)`);
}

function checkOptions(options: BaseOptions): Required<Pick<BaseOptions, 'uncompressed'>> & { platform: Platform; explicit: boolean } {
  refuseUnknownOptions(options, BASE_KEYS, 'loadBase()');
  const uncompressed = options.uncompressed ?? 'compress';
  if (uncompressed !== 'compress' && uncompressed !== 'keep') throw new ErrOptionRange('uncompressed', "'compress' or 'keep'", uncompressed);
  if (options.name !== undefined && typeof options.name !== 'string') throw new ErrInvalidOption('name', 'a string', options.name);
  return { uncompressed, platform: parsePlatform(options.platform ?? 'linux/amd64'), explicit: options.platform !== undefined };
}

function diffIDs(config: ConfigJSON, source: string): string[] {
  const ids = (config.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && DIGEST.test(d))) throw new ErrBaseImage(`${source}: config has no valid rootfs.diff_ids`);
  return ids as string[];
}

interface BaseLayer {
  blob: KnownBlob;
  diffID: string;
}

function layerBlobs(layers: BaseLayer[], o: BaseOptions, mode: 'compress' | 'keep'): () => Blob[] {
  return () =>
    layers.map(({ blob, diffID }): Blob => {
      const { descriptor } = blob;
      if (isUncompressedLayer(descriptor.mediaType) && mode === 'compress') {
        // The Layer computes the new config's diff_id from these bytes: they must be the ones the
        // base's config names (the blob's digest is the diff_id, checked with the size as they
        // stream), or a tampered layer.tar would be hashed into the new image as if it were the base's.
        return { kind: 'streaming', layer: new Layer(blob.open(), { ...o.layerOptions }) };
      }
      // Destinations check known blobs too; the source's blobs are checked as well, so that whatever
      // reads a base's blob (a caller's own destination included) never gets bytes that are not the descriptor's.
      const d = isUncompressedLayer(descriptor.mediaType) ? { ...descriptor, mediaType: OCI_LAYER_UNCOMPRESSED } : { ...descriptor };
      return { kind: 'known', descriptor: d, diffID, open: () => blob.open() };
    });
}

/** The base image manifest `d` of `source` names: its config, and its layers as blobs of the source. */
async function fromManifest(source: ImageSource, d: Descriptor, o: BaseOptions, opts: ReturnType<typeof checkOptions>): Promise<BaseImage> {
  if (!isManifestType(d.mediaType)) throw new ErrBaseImage(`${source.where}: unsupported manifest type ${d.mediaType}`);
  // Every descriptor checked here (config and layers), before any is read.
  const manifest = parseManifest((await source.manifest(d)).bytes, `${source.where}: manifest ${d.digest}`, fail);
  const config = await verifiedConfig(source, manifest.config);
  const ids = diffIDs(config, source.where);
  const { layers } = manifest;
  if (layers.length !== ids.length) throw new ErrBaseImage(`${source.where}: ${layers.length} layers but ${ids.length} diff_ids`);
  const list: BaseLayer[] = [];
  for (const [i, l] of layers.entries()) {
    // The source checks that the blob is there and its size (ERR_BASE_IMAGE otherwise).
    const blob = await source.blob(l);
    // An uncompressed layer's digest is its diff_id; one that says otherwise cannot be both.
    if (isUncompressedLayer(l.mediaType) && l.digest !== ids[i]) throw new ErrDigestMismatch(`diff_id ${ids[i]!}`, `layer digest ${l.digest}`, `${source.where}: uncompressed layer ${i}`);
    list.push({ blob, diffID: ids[i]! });
  }
  return { config, platform: basePlatform(config, source.where, d.platform), source: source.where, layers: layerBlobs(list, o, opts.uncompressed) };
}

async function fromOci(store: LayoutStore, o: BaseOptions, opts: ReturnType<typeof checkOptions>): Promise<BaseImage> {
  // index.json's image is chosen by names.ts's rule (several names of one image are one image); the
  // platform from an index here; the documents below it through the source.
  const source = storeSource(store, undefined, SOURCE_ERRORS);
  const entries = parseIndex(await store.read('index.json', MAX_JSON), `${store.where}: index.json`, fail);
  const candidates = namedEntries(entries, o.name);
  let d = pickOne(candidates, store.where, o.name === undefined ? 'images in index.json' : `images named ${o.name}`, (e) => e.annotations?.[CONTAINERD_NAME] ?? e.annotations?.[REF_NAME] ?? e.digest);
  for (let depth = 0; isIndexType(d.mediaType); depth++) {
    if (depth > 4) throw new ErrBaseImage(`${store.where}: indexes nested too deep`);
    const list = await childIndex(source, d);
    const i = pickPlatform(list, opts.platform);
    if (i < 0) {
      throw new ErrBaseImage(`${store.where}: no image for ${describePlatform(opts.platform)} (has ${list.map((m) => (m.platform ? describePlatform(m.platform) : 'unknown')).join(', ')})`);
    }
    d = list[i]!;
  }
  return fromManifest(source, d, o, opts);
}

/** A docker-save store, read as an ImageSource (src/layout/docker-save.ts, the one reader of the format). */
async function fromDockerSave(store: LayoutStore, o: BaseOptions, opts: ReturnType<typeof checkOptions>): Promise<BaseImage> {
  const source = dockerSaveSource(store, await readDockerSave(store, o.name, SOURCE_ERRORS), SOURCE_ERRORS);
  return fromManifest(source, await source.top(), o, opts);
}

/**
 * Loads a base image from an OCI layout directory, an OCI archive, a docker-save archive or a registry
 * (`reg/app:1`, `docker://reg/app:1`; `oci-layout:DIR` and `archive:FILE` say a local one explicitly).
 * Reads only the JSON documents (and an archive's table of entries); the layers are read when written.
 */
export async function loadBase(source: string, options: BaseOptions = {}): Promise<BaseImage> {
  if (typeof source !== 'string' || source === '') throw new ErrInvalidOption('source', 'a layout directory, an archive or an image reference', source);
  const opts = checkOptions(options);
  const resolved = resolveBaseSource(source);
  if (resolved.kind === 'registry') {
    // The reference names the image: a name meant for a layout's or archive's index would be ignored.
    if (options.name !== undefined) throw new ErrInvalidOption('name', `absent for a registry base (${source} names the image)`, options.name);
    return registryBase(resolved.reference, { ...(options.platform === undefined ? {} : { platform: options.platform }), ...(options.registry ? { registry: options.registry } : {}) });
  }
  return loadLocal(resolved.path, options, opts);
}

async function loadLocal(source: string, options: BaseOptions, opts: ReturnType<typeof checkOptions>): Promise<BaseImage> {
  const store = await openStore(source, STORE_ERRORS);
  let base: BaseImage | undefined;
  if ((await store.size('index.json')) !== undefined) base = await fromOci(store, options, opts);
  else if ((await store.size('manifest.json')) !== undefined) base = await fromDockerSave(store, options, opts);
  if (base) {
    // A single-platform base asked for another platform would give an image whose config lies.
    if (opts.explicit) checkBasePlatform(base.platform, opts.platform, source);
    return base;
  }
  throw new ErrBaseImage(`${source}: neither an OCI layout (index.json) nor a docker-save archive (manifest.json)`);
}
