// The vocabulary shared by images, archives, layouts and registries (docs/ARCHITECTURE.md):
// descriptors as the OCI spec has them, and the two kinds of blob. A known blob has its digest and
// size before it is read, so it can be checked, mounted, skipped and read again; a streaming blob is
// a Layer, whose descriptor exists only after its one pass.
import type { Readable } from 'node:stream';
import type { Layer } from '../layer/layer.js';

/** A streamed layer's descriptor from its values (annotations included): for destinations below image/. */
export { layerDescriptor } from '../layer/layer.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  /** `sha256:<64 lowercase hex>` */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
  artifactType?: string;
}

/** Where a known blob can be found in a registry already, for a cross-repository mount. */
export interface BlobOrigin {
  /** Registry host as in a reference, e.g. `docker.io` or `127.0.0.1:5000`. */
  registry: string;
  repository: string;
}

export interface KnownBlob {
  readonly kind: 'known';
  readonly descriptor: Descriptor;
  /** A layer's diffID (`sha256:` of its uncompressed bytes) when known. */
  readonly diffID?: string;
  readonly origin?: BlobOrigin;
  /** A fresh stream of the bytes, each time it is called (uploads are retried by calling it again). */
  open(): Readable;
}

export interface StreamingBlob {
  readonly kind: 'streaming';
  readonly layer: Layer;
  /**
   * What progress displays call it until its digest exists ('layer 2 (app)'): the same in every run,
   * unlike a counter of uploads. Never part of the image.
   */
  readonly label?: string;
}

export type Blob = KnownBlob | StreamingBlob;

/** A manifest or index as it is stored: these exact bytes are what its digest names. */
export interface ManifestBlob {
  readonly descriptor: Descriptor;
  readonly bytes: Buffer;
}

/**
 * Where an image goes: an OCI layout directory, an archive, a registry repository. `writeImage`
 * (src/image/write.ts) drives every destination in the same order: blobs (streaming layers passed
 * once, straight in; known blobs skipped when `has` says so), then the config, then manifests
 * (children of an index before the index), then `commit` with the names, last, so that a failure
 * never leaves a name pointing at an incomplete image. On failure it calls `abort`.
 */
export interface Destination {
  /** Streaming layers this destination takes at once (1 for a single tar stream). */
  readonly concurrency: number;
  /**
   * Optional, for a destination of concurrency 1 whose blobs land one after another (an archive):
   * true lets writeImage compress the streaming layers after the current one ahead, into spool files
   * (spool.ts), and hand each over in its turn as a known blob (its descriptor the layer's, its bytes
   * checked again as they pass). Absent: every streaming layer comes as itself, one at a time.
   */
  readonly spoolAhead?: boolean;
  has(descriptor: Descriptor): Promise<boolean>;
  /** Writes the bytes of `blob`; resolves with its descriptor (for a streaming blob, once it ended). */
  writeBlob(blob: Blob, signal?: AbortSignal): Promise<Descriptor>;
  writeManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: the names `commit` will bind, from the names a caller gave, called before anything is
   * written; throws for a name this destination cannot bind. A registry reads a bare `latest` as a
   * tag of its own repository and refuses other repositories. Without it, names are normalised
   * references (reference.ts).
   */
  resolveNames?(names: readonly string[]): string[];
  /**
   * Optional: lists `manifest` (already written with writeManifest: an artifact manifest whose
   * `subject` is `subject`) where readers of this destination look for referrers: index.json in a
   * layout or archive, the referrers API or its `sha256-<hex>` tag fallback in a registry. Called
   * before commit. A destination without it cannot take referrers (writeImage refuses up front).
   */
  addReferrer?(manifest: ManifestBlob, subject: Descriptor, signal?: AbortSignal): Promise<void>;
  /** Binds `names` (normalised references, see reference.ts) to `top`, the image or index, and finishes. */
  commit(top: ManifestBlob, names: readonly string[], signal?: AbortSignal): Promise<void>;
  /** Removes what this destination wrote so far (never anything it did not create). */
  abort(reason: unknown): Promise<void>;
}
