// How a built Image or ImageIndex (image.ts) answers as an ImageSource (source.ts). Its streaming
// layers have no descriptor before their one pass, so, as go-containerregistry's stream.Layer and
// mutate.Image do, its documents resolve only once its layers were computed: `produce()` lists the
// blobs writeImage passes first (each streaming layer once, several at once under the thread
// budget), and the configs, manifests and index are made from the layers' values after that. Asked
// before, top() and manifest() throw ErrNotComputed. Nothing is spooled: a streaming layer's bytes
// went into the destination in their pass and cannot be handed out again (ErrConsumed).
import { ErrConsumed, ErrInvalidOption } from '../core/errors.js';
import type { ConfigJSON } from './config.js';
import { canonicalJSON } from './json.js';
import { buildIndex, buildManifest, bytesBlob, MANIFEST_TYPES, type ImageFormat } from './manifest.js';
import { ErrOptionRange } from '../core/errors.js';
import { ErrBaseImage, ErrImageFormat } from './errors.js';
import type { ImageSource } from './source.js';
import { layerDescriptor, type Blob, type Descriptor, type KnownBlob, type ManifestBlob, type Platform } from './types.js';

/** What of a built Image its documents are made from (image.ts's Image). */
export interface BuiltImage {
  readonly format: ImageFormat;
  readonly platform: Platform;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly layers: readonly { readonly blob: Blob }[];
  configJSON(diffIDs: readonly string[]): ConfigJSON;
}

/** The documents of a built image or index, once its layers were computed. */
export interface BuiltDocuments {
  readonly top: ManifestBlob;
  readonly manifests: ReadonlyMap<string, ManifestBlob>;
  readonly blobs: ReadonlyMap<string, Blob>;
}

/**
 * A layer blob's diffID: a streaming layer's once computed, a known blob's as given, else its digest
 * when it is an uncompressed tar (the two are the same bytes). Undefined: no config can list it.
 */
export function blobDiffID(blob: Blob): string | undefined {
  if (blob.kind === 'streaming') return blob.layer.diffID().toString();
  return blob.diffID ?? (blob.descriptor.mediaType.endsWith('.tar') ? blob.descriptor.digest : undefined);
}

/** The distinct layer blobs of `images` in write order: a Layer object is one pass, a known digest one blob. */
export function producedBlobs(images: readonly BuiltImage[]): Blob[] {
  const seen = new Set<unknown>();
  const out: Blob[] = [];
  for (const image of images) {
    for (const { blob } of image.layers) {
      const key = blob.kind === 'streaming' ? blob.layer : blob.descriptor.digest;
      if (seen.has(key)) continue;
      // Found before anything is written, not after the layers before it were uploaded.
      if (blob.kind === 'known' && blobDiffID(blob) === undefined) throw new ErrBaseImage(`layer ${blob.descriptor.digest} has no diffID: a config cannot list it`);
      seen.add(key);
      out.push(blob);
    }
  }
  return out;
}

/** A layer blob's descriptor: a streaming layer's from its values, annotations (eStargz) included. */
async function descriptorOf(blob: Blob): Promise<Descriptor> {
  if (blob.kind === 'known') return blob.descriptor;
  // digest() throws ErrNotComputed until the layer's one pass has ended; then `done` has resolved.
  blob.layer.digest();
  return layerDescriptor(await blob.layer.done);
}

/** Every document of `images` (an index of them when `index` is given), from the computed layers. */
export async function builtDocuments(images: readonly BuiltImage[], index?: { format: ImageFormat; annotations: Readonly<Record<string, string>> | undefined }): Promise<BuiltDocuments> {
  const manifests = new Map<string, ManifestBlob>();
  const blobs = new Map<string, Blob>();
  const children: ManifestBlob[] = [];
  for (const image of images) {
    const layers: Descriptor[] = [];
    for (const { blob } of image.layers) {
      const d = await descriptorOf(blob);
      blobs.set(d.digest, blob);
      layers.push(d);
    }
    const diffIDs = image.layers.map(({ blob }) => blobDiffID(blob)!);
    const config = bytesBlob(canonicalJSON(image.configJSON(diffIDs)), MANIFEST_TYPES[image.format].config);
    blobs.set(config.descriptor.digest, config);
    const manifest = buildManifest({
      format: image.format,
      config: config.descriptor,
      layers,
      annotations: image.annotations as Record<string, string> | undefined,
      platform: index === undefined ? undefined : image.platform,
    });
    manifests.set(manifest.descriptor.digest, manifest);
    children.push(manifest);
  }
  let top = children[0]!;
  if (index !== undefined) {
    top = buildIndex({ format: index.format, manifests: children.map((m) => m.descriptor), annotations: index.annotations as Record<string, string> | undefined });
    manifests.set(top.descriptor.digest, top);
  }
  return { top, manifests, blobs };
}

/** The manifest or index `d` names among `docs`. */
export function builtManifest(docs: BuiltDocuments, d: Descriptor, where: string): ManifestBlob {
  const m = docs.manifests.get(d.digest);
  if (m === undefined || m.descriptor.size !== d.size) throw new ErrInvalidOption('descriptor', `a manifest of ${where}`, d.digest);
  return m;
}

/** The config or known layer `d` names; a streaming layer's bytes went into its one pass. */
export function builtBlob(docs: BuiltDocuments, d: Descriptor, where: string): KnownBlob {
  const b = docs.blobs.get(d.digest);
  if (b === undefined || (b.kind === 'known' && b.descriptor.size !== d.size)) throw new ErrInvalidOption('descriptor', `a config or layer of ${where}`, d.digest);
  if (b.kind === 'streaming') throw new ErrConsumed();
  return b;
}

/** What an image or index is made of, for its documents: its images, and the index over them if any. */
export interface BuiltParts {
  images: readonly BuiltImage[];
  index?: { format: ImageFormat; annotations: Readonly<Record<string, string>> | undefined };
}

/** The ImageSource side of Image and ImageIndex (image.ts): the documents once the layers were produced. */
export abstract class BuiltSource implements ImageSource {
  #documents: BuiltDocuments | undefined;

  abstract get where(): string;
  protected abstract builtParts(): BuiltParts;

  /** The distinct layers, to write before top() can answer. */
  produce(): Blob[] {
    return producedBlobs(this.builtParts().images);
  }

  /** The manifest's or index's descriptor; ErrNotComputed until every streaming layer has passed. */
  async top(): Promise<Descriptor> {
    return (await this.#docs()).top.descriptor;
  }

  async manifest(d: Descriptor): Promise<ManifestBlob> {
    return builtManifest(await this.#docs(), d, this.where);
  }

  async blob(d: Descriptor): Promise<KnownBlob> {
    return builtBlob(await this.#docs(), d, this.where);
  }

  invalid(message: string): Error {
    return new ErrImageFormat(message);
  }

  missing(message: string): Error {
    return new ErrOptionRange('platform', `a platform of ${this.where}`, message);
  }

  // Kept once made (never a failure: asked before the layers passed, a later call must still answer).
  async #docs(): Promise<BuiltDocuments> {
    if (this.#documents === undefined) {
      const { images, index } = this.builtParts();
      this.#documents = await builtDocuments(images, index);
    }
    return this.#documents;
  }
}
