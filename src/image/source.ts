// The one read interface of images (after go-containerregistry's v1.Image/v1.ImageIndex and
// containerd's content Provider): a source hands out its top descriptor, the manifests and indexes
// below it, and its blobs by descriptor. Every manifest it returns was checked against its
// descriptor's digest and size; every blob is a known blob whose open() checks its bytes while they
// stream (src/core/verify.ts), and is opened only when a destination needs the bytes (a registry
// destination that HEADs or mounts it never does). One implementation per format:
// src/layout/source.ts (an OCI layout directory, or an archive holding one) and
// src/registry/source.ts (a registry, lazy); the built Image and ImageIndex (image.ts) are sources
// too, whose documents exist once their streaming layers were produced (built-source.ts).
// writeImage (write.ts) writes any of them.
import { sha256 } from '../core/hash.js';
import { isIndexType } from '../core/media-types.js';
import { describePlatform, pickPlatform } from './platform.js';
import type { Blob, Descriptor, KnownBlob, ManifestBlob, Platform } from './types.js';
import { DIGEST_PATTERN } from '../core/hash.js';

export interface ImageSource {
  /** Where the image is (a path, a reference), for messages. */
  readonly where: string;
  /** The image manifest or index this source names. */
  top(): Promise<Descriptor>;
  /** The manifest or index `d` names, its bytes checked against `d` (digest and size). */
  manifest(d: Descriptor): Promise<ManifestBlob>;
  /** The config or layer `d` names, as a known blob whose every open() is verified while it streams. */
  blob(d: Descriptor): Promise<KnownBlob>;
  /** The error for a document of this source that is malformed (a registry's, a layout's own code). */
  invalid(message: string, cause?: unknown): Error;
  /** The error for an image this source does not have (no manifest for a platform asked for). */
  missing(message: string): Error;
  /**
   * Optional, for a source whose descriptors exist only once some of its blobs were produced (a built
   * image: a streaming layer has its digest only after its one pass). The blobs to write first, in
   * this order; top(), manifest() and blob() answer after each was written, and throw ErrNotComputed
   * before. writeImage passes them as layers (streaming ones once each, several at once under the
   * thread budget), then reads the source as any other, skipping the blobs it already wrote.
   */
  produce?(): readonly Blob[];
}

/** Whether `value` is an ImageSource (a read image, or a built Image or ImageIndex). */
export function isImageSource(value: unknown): value is ImageSource {
  const v = value as Partial<ImageSource> | null;
  return typeof v === 'object' && v !== null && typeof v.top === 'function' && typeof v.manifest === 'function' && typeof v.blob === 'function';
}

/** The most bytes a manifest, an index or index.json may have (the distribution registry's own limit is 4 MiB). */
export const MANIFEST_CAP = 4 * 1024 * 1024;

/** Indexes nested deeper than this are refused (a loop of indexes would never end). */
export const MAX_INDEX_DEPTH = 4;
/** More entries than this in one manifest or index are refused before anything is fetched. */
const MAX_ENTRIES = 10_000;

type Fail = (message: string) => Error;

/** A JSON object read from outside (a manifest, an index, index.json); `fail` makes the reader's error. */
export function parseObject(bytes: Uint8Array, what: string, fail: Fail): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw fail(`${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** A descriptor read from outside, checked before its digest names a URL or a file. */
export function checkDescriptor(value: unknown, what: string, fail: Fail): Descriptor {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object') throw fail(`${what}: descriptor is not an object`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length > 255) throw fail(`${what}: descriptor without a valid mediaType`);
  if (typeof v.digest !== 'string' || !DIGEST_PATTERN.test(v.digest)) throw fail(`${what}: unsupported digest ${JSON.stringify(v.digest)} (not sha256:<64 lowercase hex>)`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw fail(`${what}: descriptor size is not a non-negative integer`);
  const d: Descriptor = { mediaType: v.mediaType, digest: v.digest, size: v.size };
  // Absent or null: none. Anything else is read by name matching (names.ts) and platform choice, so
  // it must have the OCI types (annotations a map of string to string, platform's os and architecture
  // strings), or a number where a string belongs would be a TypeError there instead of this error.
  if (v.annotations !== undefined && v.annotations !== null) d.annotations = checkAnnotations(v.annotations, what, fail);
  if (v.platform !== undefined && v.platform !== null) d.platform = checkPlatform(v.platform, what, fail);
  // Dropped quietly, a malformed artifactType would make a referrer (an SBOM beside the image) look
  // like an image to name matching (names.ts), and malformed urls would vanish from a copy.
  if (v.artifactType !== undefined && v.artifactType !== null) {
    if (typeof v.artifactType !== 'string' || v.artifactType.length > 255) throw fail(`${what}: descriptor artifactType is not a media type string`);
    d.artifactType = v.artifactType;
  }
  if (v.urls !== undefined && v.urls !== null) {
    if (!Array.isArray(v.urls) || !v.urls.every((u) => typeof u === 'string')) throw fail(`${what}: descriptor urls are not an array of strings`);
    d.urls = [...(v.urls as string[])];
  }
  return d;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function checkAnnotations(value: unknown, what: string, fail: Fail): Record<string, string> {
  if (!isPlainObject(value)) throw fail(`${what}: descriptor annotations are not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw fail(`${what}: annotation ${JSON.stringify(k)} is not a string`);
    // defineProperty: a key "__proto__" stays an annotation, not the object's prototype.
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A descriptor's platform: os and architecture strings; variant and os.version strings, os.features strings, when present. */
function checkPlatform(value: unknown, what: string, fail: Fail): Platform {
  if (!isPlainObject(value)) throw fail(`${what}: descriptor platform is not an object`);
  if (typeof value.os !== 'string' || typeof value.architecture !== 'string') throw fail(`${what}: descriptor platform without string os and architecture`);
  for (const key of ['variant', 'os.version'] as const) {
    if (value[key] !== undefined && typeof value[key] !== 'string') throw fail(`${what}: descriptor platform ${key} is not a string`);
  }
  const features = value['os.features'];
  if (features !== undefined && !(Array.isArray(features) && features.every((f) => typeof f === 'string'))) {
    throw fail(`${what}: descriptor platform os.features is not an array of strings`);
  }
  // A copy with every member kept (what a copy writes is the source's bytes; this is what is matched and shown).
  return { ...value, ...(Array.isArray(features) ? { 'os.features': [...(features as string[])] } : {}) } as unknown as Platform;
}

function list(value: unknown, name: 'manifests' | 'layers', what: string, fail: Fail): Descriptor[] {
  if (!Array.isArray(value)) throw fail(`${what}: no ${name} array`);
  if (value.length > MAX_ENTRIES) throw fail(`${what}: too many ${name}`);
  return value.map((d, i) => checkDescriptor(d, `${what} ${name === 'manifests' ? 'manifest' : 'layer'} ${i}`, fail));
}

/** The entries of an index (or index.json), each descriptor checked. */
export function parseIndex(bytes: Uint8Array, what: string, fail: Fail): Descriptor[] {
  return list(parseObject(bytes, what, fail).manifests, 'manifests', what, fail);
}

/** The config and layers an image manifest lists, each descriptor checked. */
export function parseManifest(bytes: Uint8Array, what: string, fail: Fail): { config: Descriptor; layers: Descriptor[] } {
  const m = parseObject(bytes, what, fail);
  const layers = list(m.layers, 'layers', what, fail);
  return { config: checkDescriptor(m.config, `${what} config`, fail), layers };
}

const failOf = (source: ImageSource): Fail => (message) => source.invalid(`${source.where}: ${message}`);

/** The entries of an index of `source`. */
export function indexEntries(source: ImageSource, index: ManifestBlob): Descriptor[] {
  return parseIndex(index.bytes, `index ${index.descriptor.digest}`, failOf(source));
}

/** The config and layers an image manifest of `source` lists. */
export function manifestParts(source: ImageSource, manifest: ManifestBlob): { config: Descriptor; layers: Descriptor[] } {
  return parseManifest(manifest.bytes, `manifest ${manifest.descriptor.digest}`, failOf(source));
}

/**
 * `source` with only the images of `wanted` when its top is an index: one platform makes that
 * image's manifest the top (its digest unchanged); several make a new index, the same document with
 * only their entries in their order (a new digest). `'all'`, or a top that is an image, is `source`.
 */
export async function selectPlatforms(source: ImageSource, wanted: 'all' | readonly Platform[]): Promise<ImageSource> {
  if (wanted === 'all') return source;
  const top = await source.manifest(await source.top());
  if (!isIndexType(top.descriptor.mediaType)) return source;
  const children = indexEntries(source, top);
  const keep = new Set<number>();
  for (const want of wanted) {
    const i = pickPlatform(children, want);
    if (i < 0) {
      const have = children.map((d) => (d.platform ? describePlatform(d.platform) : '?')).join(', ');
      throw source.missing(`${source.where} has no image for ${describePlatform(want)} (it has: ${have})`);
    }
    keep.add(i);
  }
  if (keep.size === 1) {
    const only = children[[...keep][0]!]!;
    return { ...bind(source), top: async () => only };
  }
  const doc = parseObject(top.bytes, `index ${top.descriptor.digest}`, failOf(source));
  const bytes = Buffer.from(JSON.stringify({ ...doc, manifests: (doc.manifests as unknown[]).filter((_, i) => keep.has(i)) }));
  const smaller: ManifestBlob = { descriptor: { mediaType: top.descriptor.mediaType, digest: sha256(bytes), size: bytes.length }, bytes };
  const inner = bind(source);
  return {
    ...inner,
    top: async () => smaller.descriptor,
    manifest: async (d) => (d.digest === smaller.descriptor.digest ? smaller : inner.manifest(d)),
  };
}

function bind(s: ImageSource): ImageSource {
  return {
    where: s.where,
    top: () => s.top(),
    manifest: (d) => s.manifest(d),
    blob: (d) => s.blob(d),
    invalid: (m, c) => s.invalid(m, c),
    missing: (m) => s.missing(m),
  };
}
