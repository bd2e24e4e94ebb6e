// A registry repository as a Destination for writeImage: streaming layers go straight into PATCHes,
// known blobs are HEAD-checked, mounted or uploaded, manifests are PUT by digest as they come, and the
// tags only in commit, so a push that fails never leaves a tag pointing at a half-pushed image.
import { layerDescriptor, type Blob, type Descriptor, type Destination, type ManifestBlob } from '../image/types.js';
import { Reference } from '../image/reference.js';
import { ErrInvalidReference } from '../image/errors.js';
import { ErrOptionRange, ErrInvalidOption, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { ErrRegistryTagsIncomplete } from './errors.js';
import { anySignal, connect, pushScope, type RegistryOptions, type Repository, REGISTRY_OPTION_KEYS } from './client.js';
import { putManifest, type ManifestTarget } from './manifest.js';
import { pushTags } from './tags.js';
import { addReferrer } from './referrers.js';
import { blobExists, uploadKnown, uploadStream, type UploadContext } from './upload.js';

export interface ProgressEvent {
  /** The blob's digest; undefined for a streaming layer until it has ended. */
  digest: string | undefined;
  mediaType: string;
  /** Bytes sent so far for this blob. */
  bytes: number;
  /** Total bytes, when known before the end. */
  total: number | undefined;
  state: 'uploading' | 'exists' | 'mounted' | 'done';
  /** Distinguishes streaming layers before their digest exists (1, 2, ...). */
  id: number;
  /** A streaming layer's label (StreamingBlob.label), when it has one: stable across runs, unlike `id`. */
  label?: string;
}

export interface RegistryDestinationOptions extends RegistryOptions {
  /** Blobs uploaded at once (default 3). */
  concurrency?: number;
  /** Chunked uploads with PATCHes of this many bytes, for registries that refuse a length-less PATCH. */
  chunkSize?: number;
  onProgress?: (event: ProgressEvent) => void;
}

/** RegistryDestinationOptions' names (pushImage and pushLayout add theirs). */
export const DESTINATION_OPTION_KEYS: ReadonlySet<string> = new Set([
  ...REGISTRY_OPTION_KEYS,
  ...optionKeys<Omit<RegistryDestinationOptions, keyof RegistryOptions>>({ concurrency: true, chunkSize: true, onProgress: true }),
]);

export class RegistryDestination implements Destination {
  readonly concurrency: number;
  readonly reference: Reference;
  readonly #repo: Repository;
  readonly #options: RegistryDestinationOptions;
  readonly #written = new Set<string>();
  /** Digests `has` just found absent: writeBlob does not ask again. */
  readonly #absent = new Set<string>();
  #ids = 0;

  constructor(reference: string | Reference, options: RegistryDestinationOptions = {}) {
    refuseUnknownOptions(options, DESTINATION_OPTION_KEYS, 'new RegistryDestination()');
    if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new ErrInvalidOption('onProgress', 'a function', options.onProgress);
    const concurrency = options.concurrency ?? 3;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new ErrOptionRange('concurrency', 'an integer from 1 to 64', concurrency);
    }
    if (options.chunkSize !== undefined && (!Number.isSafeInteger(options.chunkSize) || options.chunkSize < 1024 || options.chunkSize > 256 * 1024 * 1024)) {
      throw new ErrOptionRange('chunkSize', 'an integer from 1024 to 268435456', options.chunkSize);
    }
    this.#repo = connect(reference, options);
    this.reference = this.#repo.reference;
    this.concurrency = concurrency;
    this.#options = options;
  }

  #ctx(signal?: AbortSignal): UploadContext & ManifestTarget {
    return {
      transport: this.#repo.transport,
      registry: this.#repo.registry,
      repository: this.#repo.repository,
      scopes: [pushScope(this.#repo.repository)],
      chunkSize: this.#options.chunkSize,
      signal: anySignal(this.#options.signal, signal),
    };
  }

  async has(descriptor: Descriptor): Promise<boolean> {
    const found = await blobExists(this.#ctx(), descriptor);
    if (!found) this.#absent.add(descriptor.digest);
    // A blob the registry holds is never written: this is its only progress event.
    else this.#options.onProgress?.({ digest: descriptor.digest, mediaType: descriptor.mediaType, bytes: 0, total: descriptor.size, state: 'exists', id: ++this.#ids });
    return found;
  }

  async writeBlob(blob: Blob, signal?: AbortSignal): Promise<Descriptor> {
    const ctx = this.#ctx(signal);
    const id = ++this.#ids;
    const progress = this.#options.onProgress;
    if (blob.kind === 'streaming') {
      const layer = blob.layer;
      const mediaType = layer.mediaType();
      let bytes = 0;
      const label = blob.label === undefined ? {} : { label: blob.label };
      const emit = (state: ProgressEvent['state'], digest?: string): void =>
        progress?.({ digest, mediaType, bytes, total: state === 'done' ? bytes : undefined, state, id, ...label });
      emit('uploading');
      const source = layer.compressed();
      await uploadStream(
        ctx,
        source,
        async () => (await layer.done).digest.toString(),
        (n) => {
          bytes += n;
          emit('uploading');
        },
      );
      const values = await layer.done;
      emit('done', values.digest.toString());
      return layerDescriptor(values);
    }
    const d = blob.descriptor;
    let bytes = 0;
    const emit = (state: ProgressEvent['state']): void => progress?.({ digest: d.digest, mediaType: d.mediaType, bytes, total: d.size, state, id });
    const checked = this.#absent.delete(d.digest);
    const result = await uploadKnown(
      ctx,
      blob,
      (n) => {
        bytes += n;
        emit('uploading');
      },
      checked,
    );
    if (result === 'exists' || result === 'mounted') emit(result);
    else emit('done');
    return d;
  }

  async writeManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void> {
    await putManifest(this.#ctx(signal), manifest, manifest.descriptor.digest);
    this.#written.add(manifest.descriptor.digest);
  }

  /** Lists an artifact manifest as a referrer of `subject` (referrers.ts: the API, else the sha256-<hex> tag). */
  async addReferrer(manifest: ManifestBlob, subject: Descriptor, signal?: AbortSignal): Promise<void> {
    await addReferrer(this.#ctx(signal), manifest, subject);
  }

  /**
   * The names a push here tags (tags.ts): this reference's own tag, then each of `names`, a bare tag
   * (`latest`) or a name in this repository; a name of another repository is ErrTagRepository.
   * writeImage calls it before writing anything, so what it reports is what commit writes.
   */
  resolveNames(names: readonly string[]): string[] {
    return pushTags(this.reference, names);
  }

  /**
   * Tags `top` with the destination's own tag and the tag of each name in this repository. Names of
   * other repositories (say, the source name pullToDestination passes) are not tags of this push and
   * are left alone: callers that report names resolve them first (resolveNames), which refuses them.
   */
  async commit(top: ManifestBlob, names: readonly string[], signal?: AbortSignal): Promise<void> {
    const tags = new Set<string>();
    if (this.reference.tag !== undefined) tags.add(this.reference.tag);
    for (const name of names) {
      const ref = Reference.parse(name);
      if (ref.registry === this.reference.registry && ref.repository === this.reference.repository && ref.tag !== undefined) tags.add(ref.tag);
    }
    const ctx = this.#ctx(signal);
    if (this.reference.digest !== undefined && this.reference.digest !== top.descriptor.digest) {
      throw new ErrInvalidReference(this.reference.toString(), `it pins ${this.reference.digest} but the image pushed is ${top.descriptor.digest}`);
    }
    if (!this.#written.has(top.descriptor.digest)) await this.writeManifest(top, signal);
    // One PUT per tag: no registry API tags atomically. When one fails after others were written, the
    // error says which exist (an immutable-tag registry refusing `latest` after `sha-abc` went in).
    const tagged: string[] = [];
    for (const tag of tags) {
      const name = `${this.reference.name}:${tag}`;
      try {
        await putManifest(ctx, top, tag);
      } catch (err) {
        if (tagged.length === 0 || ctx.signal?.aborted) throw err;
        throw new ErrRegistryTagsIncomplete(tagged, name, err);
      }
      tagged.push(name);
    }
  }

  /** Nothing to remove: blobs and untagged manifests are invisible until tagged, and the registry collects them. */
  async abort(_reason: unknown): Promise<void> {}
}
