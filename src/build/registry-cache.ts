// The layer cache shared through a registry (`--cache-repo REG/team/cache`), for fresh CI runners whose
// local cache is empty: the same facts as layer-cache.ts (key -> digest, size), kept as one OCI artifact
// under a fixed tag: an image manifest with artifactType CACHE_TYPE whose one layer is a JSON document
// of entries. Read once at the start of a build, written at the end by read-merge-write (the tag is
// read again just before the PUT), so a concurrent writer's entries survive except in a true race,
// where a lost entry costs an upload, never a wrong digest: buildImage HEADs every entry's digest in
// the destination before it is used, and compresses the layer again when the destination lacks it.
import { Readable } from 'node:stream';
import type { BlobOrigin, KnownBlob } from '../image/types.js';
import { Reference } from '../image/reference.js';
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import { connect, pullScope, pushScope, type RegistryOptions, type Repository } from '../registry/client.js';
import { getManifest, putManifest } from '../registry/manifest.js';
import { DIGEST_PATTERN as DIGEST, sha256 } from '../core/hash.js';
import { OCI_EMPTY, OCI_MANIFEST } from '../core/media-types.js';
import { blobExists, uploadKnown, type UploadContext } from '../registry/upload.js';
import { readBounded } from '../registry/transport.js';
import { entryExtras, layerCacheKeyId, type LayerCacheEntry, type LayerCacheKey } from './layer-cache.js';

/** The artifactType of the cache manifest and the media type of its one layer. */
export const CACHE_TYPE = 'application/vnd.fastlayer.layer-cache.v1+json';
/** The tag the cache lives under in its repository. */
export const CACHE_TAG = 'fastlayer-layer-cache';
const EMPTY_CONFIG = { mediaType: OCI_EMPTY, digest: sha256(Buffer.from('{}')), size: 2 };
/** A document above this is not ours (10,000 entries are about 2.5 MB). */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const KEY_ID = /^[0-9a-f]{64}$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export interface RegistryLayerCacheEntry extends LayerCacheEntry {
  /** A repository of the cache's registry that held the blob when the entry was written (for a mount). */
  repository?: string;
  /** When the entry was last written or used (ms since the epoch): the oldest are dropped first. */
  time: number;
}

export interface RegistryLayerCacheOptions extends RegistryOptions {
  /** Entries kept in the document (default 10000, about 2.5 MB); the oldest beyond it are dropped. */
  maxEntries?: number;
}

/** The entries of a cache document; anything foreign or corrupt is left out (a miss, never an error). */
function parseDocument(bytes: Buffer): Map<string, RegistryLayerCacheEntry> {
  const out = new Map<string, RegistryLayerCacheEntry>();
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return out;
  }
  const doc = value as { fastlayerLayerCache?: unknown; entries?: unknown } | null;
  if (typeof doc !== 'object' || doc === null || doc.fastlayerLayerCache !== 1) return out;
  if (typeof doc.entries !== 'object' || doc.entries === null || Array.isArray(doc.entries)) return out;
  for (const [id, raw] of Object.entries(doc.entries as Record<string, unknown>)) {
    const e = raw as { digest?: unknown; size?: unknown; repository?: unknown; time?: unknown; diffID?: unknown; annotations?: unknown } | null;
    if (!KEY_ID.test(id) || typeof e !== 'object' || e === null) continue;
    if (typeof e.digest !== 'string' || !DIGEST.test(e.digest)) continue;
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size < 0) continue;
    if (typeof e.time !== 'number' || !Number.isSafeInteger(e.time)) continue;
    const repository = typeof e.repository === 'string' && e.repository.length <= 255 && REPOSITORY.test(e.repository) ? { repository: e.repository } : {};
    const extras = entryExtras(e);
    if (extras === undefined) continue;
    out.set(id, { digest: e.digest, size: e.size, ...extras, time: e.time, ...repository });
  }
  return out;
}

function memoryBlob(mediaType: string, bytes: Buffer): KnownBlob {
  return { kind: 'known', descriptor: { mediaType, digest: sha256(bytes), size: bytes.length }, open: () => Readable.from([bytes]) };
}

export class RegistryLayerCache {
  readonly reference: Reference;
  readonly maxEntries: number;
  readonly #repo: Repository;
  readonly #signal: AbortSignal | undefined;
  /** What the document held when it was read. */
  #read = new Map<string, RegistryLayerCacheEntry>();
  /** What this build learnt or used: merged over the document when it is written. */
  readonly #updates = new Map<string, RegistryLayerCacheEntry>();

  /** `REG/REPO` (a tag or digest in it is refused: the cache has its own tag). Credentials: options', sent only to that registry. */
  constructor(repository: string, options: RegistryLayerCacheOptions = {}) {
    if (typeof repository !== 'string' || repository === '') throw new ErrInvalidOption('cacheRepo', 'a repository REG/NAME', repository);
    const ref = Reference.parse(repository);
    if (ref.tag !== undefined && repository.endsWith(`:${ref.tag}`)) throw new ErrOptionRange('cacheRepo', `a repository without a tag (the cache is tagged ${CACHE_TAG})`, repository);
    if (ref.digest !== undefined) throw new ErrOptionRange('cacheRepo', 'a repository without a digest', repository);
    const { maxEntries = 10_000, ...registryOptions } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > 100_000) throw new ErrOptionRange('maxEntries', 'an integer from 1 to 100000', maxEntries);
    this.maxEntries = maxEntries;
    this.#repo = connect(`${ref.registry}/${ref.repository}:${CACHE_TAG}`, registryOptions);
    this.reference = this.#repo.reference;
    this.#signal = registryOptions.signal;
  }

  #ctx(write: boolean): UploadContext {
    const { transport, registry, repository } = this.#repo;
    return { transport, registry, repository, scopes: [write ? pushScope(repository) : pullScope(repository)], signal: this.#signal };
  }

  /** The document under the tag; empty when the tag, its blob or the repository does not exist, or it is not ours. */
  async #fetch(write: boolean): Promise<Map<string, RegistryLayerCacheEntry>> {
    const ctx = this.#ctx(write);
    let manifest;
    try {
      manifest = await getManifest(ctx, CACHE_TAG);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_REGISTRY_NOT_FOUND') return new Map();
      throw err;
    }
    let parsed: { artifactType?: unknown; layers?: { mediaType?: unknown; digest?: unknown; size?: unknown }[] };
    try {
      parsed = JSON.parse(manifest.bytes.toString('utf8')) as typeof parsed;
    } catch {
      return new Map();
    }
    const layer = Array.isArray(parsed.layers) ? parsed.layers[0] : undefined;
    if (parsed.artifactType !== CACHE_TYPE || layer?.mediaType !== CACHE_TYPE || typeof layer.digest !== 'string' || !DIGEST.test(layer.digest)) return new Map();
    if (typeof layer.size !== 'number' || layer.size > MAX_DOCUMENT_BYTES) return new Map();
    const url = ctx.transport.url(`${ctx.repository}/blobs/${layer.digest}`);
    let res: Response;
    try {
      res = await ctx.transport.request({ method: 'GET', url, scopes: ctx.scopes, signal: ctx.signal }, [200], `getting the layer cache ${layer.digest} from ${ctx.repository}`);
    } catch (err) {
      // A tag left pointing at a deleted blob: an empty cache, as a missing tag is, so the next save
      // replaces it (an error here would warn on every run and never be repaired).
      if ((err as { code?: string }).code === 'ERR_REGISTRY_NOT_FOUND') return new Map();
      throw err;
    }
    const bytes = await readBounded(res, MAX_DOCUMENT_BYTES, `layer cache ${layer.digest}`);
    // A document that is not the blob it is named by is not trusted at all.
    if (sha256(bytes) !== layer.digest) return new Map();
    return parseDocument(bytes);
  }

  /** Reads the document (call once, before the build hashes its layers). */
  async load(): Promise<void> {
    this.#read = await this.#fetch(false);
  }

  /** Entries read, plus those recorded since. */
  get size(): number {
    return new Set([...this.#read.keys(), ...this.#updates.keys()]).size;
  }

  get(key: LayerCacheKey): (RegistryLayerCacheEntry & { origin?: BlobOrigin }) | undefined {
    const id = layerCacheKeyId(key);
    const e = this.#updates.get(id) ?? this.#read.get(id);
    if (e === undefined) return undefined;
    return e.repository === undefined ? e : { ...e, origin: { registry: this.#repo.registry, repository: e.repository } };
  }

  /** Records `key -> entry` for the next save; `repository`: where the blob now is, in this cache's registry. */
  record(key: LayerCacheKey, entry: LayerCacheEntry, repository?: string): void {
    if (!DIGEST.test(entry.digest) || !Number.isSafeInteger(entry.size) || entry.size < 0) throw new ErrInvalidOption('entry', '{ digest: sha256:<hex>, size }', entry);
    const extras = entryExtras(entry);
    if (extras === undefined) throw new ErrInvalidOption('entry', '{ digest, size, diffID?: sha256:<hex>, annotations?: strings }', entry);
    this.#updates.set(layerCacheKeyId(key), { digest: entry.digest, size: entry.size, ...extras, time: Date.now(), ...(repository === undefined ? {} : { repository }) });
  }

  /** Whether `repository` of this cache's registry holds the blob, with its size (for a mount from there). */
  async holds(repository: string, descriptor: { digest: string; size: number }): Promise<boolean> {
    const ctx = { ...this.#ctx(false), repository };
    return blobExists(ctx, descriptor, [pullScope(repository)]).catch(() => false);
  }

  /** The registry host the cache lives in, as references name it. */
  get registry(): string {
    return this.#repo.registry;
  }

  /**
   * Read-merge-write: the document is read again just before it is written, this build's entries are
   * laid over it, the oldest beyond maxEntries are dropped, and the manifest is PUT under the tag.
   * Nothing recorded: nothing written.
   */
  async save(): Promise<void> {
    if (this.#updates.size === 0) return;
    const merged = await this.#fetch(true);
    for (const [id, e] of this.#updates) merged.set(id, e);
    const kept = [...merged].sort((a, b) => b[1].time - a[1].time || (a[0] < b[0] ? -1 : 1)).slice(0, this.maxEntries);
    kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const document = Buffer.from(JSON.stringify({ fastlayerLayerCache: 1, entries: Object.fromEntries(kept) }));
    const layer = memoryBlob(CACHE_TYPE, document);
    const config = memoryBlob(EMPTY_CONFIG.mediaType, Buffer.from('{}'));
    const ctx = this.#ctx(true);
    await uploadKnown(ctx, config);
    await uploadKnown(ctx, layer);
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: CACHE_TYPE, config: EMPTY_CONFIG, layers: [layer.descriptor] }));
    await putManifest(ctx, { descriptor: { mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.length }, bytes }, CACHE_TAG);
    this.#read = new Map(kept);
    this.#updates.clear();
  }
}
