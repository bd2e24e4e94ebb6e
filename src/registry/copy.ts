// copyImage: an image or index from a registry, an OCI layout or an archive into any of the three, as
// `crane copy` / `skopeo copy` do. The source is an ImageSource (src/image/source.ts: nothing is
// fetched before a destination asks for it) written by writeImage, so every destination keeps its own
// guarantees: a registry HEADs, mounts across repositories of one registry, uploads with the bytes
// checked while they pass and tags last; a layout or archive checks each blob as it is written and
// commits only a complete image. Manifests are copied byte for byte, so digests stay what they were,
// except where a platform list asks for a smaller index (a new index, a new digest). The source may
// also be any ImageSource, a built Image or ImageIndex included (writeImage passes its layers first).
import type { Descriptor, Destination, Platform } from '../image/types.js';
import { parsePlatform } from '../image/platform.js';
import { ErrInvalidReference } from '../image/errors.js';
import { Reference } from '../image/reference.js';
import { isImageSource, selectPlatforms, type ImageSource } from '../image/source.js';
import { writeImage } from '../image/write.js';
import { ErrInvalidOption } from '../core/errors.js';
import { ArchiveWriter } from '../archive/archive.js';
import { OciLayout } from '../layout/layout.js';
import { layoutSource } from '../layout/source.js';
import type { RegistryOptions } from './client.js';
import type { Credentials } from './credentials.js';
import { RegistryDestination, type RegistryDestinationOptions } from './destination.js';
import { registrySource } from './source.js';
import { parseCopyEndpoint, type CopyEndpoint } from './copy-endpoint.js';

export type { CopyEndpoint } from './copy-endpoint.js';
export { parseCopyEndpoint } from './copy-endpoint.js';

export interface CopyOptions extends RegistryDestinationOptions {
  /**
   * From an index: `'all'` (default) copies the index and every image, digests unchanged; one
   * platform copies that image's manifest (its digest unchanged); several copy a new index listing
   * only them (same media type and fields, fewer entries: a new digest). An image that is not an
   * index is copied whatever this says.
   */
  platform?: 'all' | string | Platform | readonly (string | Platform)[];
  /**
   * A registry destination: more tags, as for a push (tags.ts: a bare tag or a name in its
   * repository), written last. A layout or archive: the names written into it (full references);
   * default, the source reference when it has a tag.
   */
  names?: readonly string[];
  /**
   * A registry source's credentials. `credentials` are the destination's; the source gets them too
   * only when both are the same registry, or when the destination is a layout or archive (no registry
   * of its own). Otherwise the source reads the Docker config, or uses these.
   */
  sourceCredentials?: Credentials | null;
}

export interface CopyResult {
  /** The top manifest or index written. */
  descriptor: Descriptor;
  /** Fully qualified names tagged in a registry destination, or written into a layout or archive. */
  names: string[];
}

type Side = string | CopyEndpoint;

function isDestination(value: unknown): value is Destination {
  return typeof value === 'object' && value !== null && typeof (value as Destination).writeBlob === 'function';
}

/**
 * Copies `src` to `dst`: each a string as `fastlayer copy` reads it, or a parsed CopyEndpoint; `src`
 * may also be any ImageSource (a built image: its platforms are chosen by building the index wanted),
 * `dst` any Destination, which is then given `options.names` as they are.
 */
export async function copyImage(src: Side | ImageSource, dst: Side | Destination, options: CopyOptions = {}): Promise<CopyResult> {
  const given = isImageSource(src) ? src : undefined;
  // A built image's documents exist only once its layers were written: they cannot be chosen from before.
  if (given !== undefined && typeof given.produce === 'function' && options.platform !== undefined && options.platform !== 'all') {
    throw new ErrInvalidOption('platform', "'all' for a built image (build an ImageIndex of the images wanted)", options.platform);
  }
  const from: CopyEndpoint | undefined = given !== undefined ? undefined : typeof src === 'string' ? parseCopyEndpoint(src, 'source') : (src as CopyEndpoint);
  const to = typeof dst === 'string' ? parseCopyEndpoint(dst, 'destination') : dst;
  const wanted = platforms(options.platform);
  const { credentials, sourceCredentials, onProgress: _p, concurrency: _c, chunkSize: _k, names: _n, platform: _f, ...shared } = options;
  // Credentials belong to one registry: the destination's go to the source only when it is the same one.
  // A layout or archive destination has no registry: then the source is the only one they can be for.
  const local = !isDestination(to) && to.kind !== 'registry';
  const sameRegistry = from?.kind === 'registry' && !isDestination(to) && to.kind === 'registry' && from.reference.registry === to.reference.registry;
  const sourceCreds = sourceCredentials !== undefined ? sourceCredentials : sameRegistry || local ? credentials : undefined;
  const sourceOptions: RegistryOptions = { ...shared, ...(sourceCreds === undefined ? {} : { credentials: sourceCreds }) };

  // The destination and its names first: a name that cannot be tagged fails before the source is read.
  let destination: Destination;
  let names: string[];
  if (isDestination(to)) {
    destination = to;
    names = [...(options.names ?? [])];
  } else if (to.kind === 'registry') {
    const registry = new RegistryDestination(to.reference, { ...shared, ...pick(options) });
    names = registry.resolveNames(options.names ?? []);
    destination = registry;
  } else {
    names = localNames(from, to, options.names);
    destination = to.kind === 'layout' ? new OciLayout(to.path) : new ArchiveWriter(to.path);
  }
  // Reading the source fails inside writeImage, which aborts the destination: nothing is named.
  const source = from === undefined ? given! : from.kind === 'registry' ? registrySource(from.reference, sourceOptions) : await openSource(from, destination);
  const written = await writeImage(await selectOrAbort(source, wanted, destination), destination, { names, ...(options.signal ? { signal: options.signal } : {}) });
  return { descriptor: written.descriptor, names: written.names };
}

async function openSource(from: CopyEndpoint & { kind: 'layout' | 'archive' }, destination: Destination): Promise<ImageSource> {
  try {
    return await layoutSource(from.path, from.kind === 'layout' ? from.name : undefined);
  } catch (err) {
    await destination.abort(err).catch(() => {});
    throw err;
  }
}

async function selectOrAbort(source: ImageSource, wanted: 'all' | Platform[], destination: Destination): Promise<ImageSource> {
  try {
    return await selectPlatforms(source, wanted);
  } catch (err) {
    await destination.abort(err).catch(() => {});
    throw err;
  }
}

function pick(o: CopyOptions): RegistryDestinationOptions {
  return {
    ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.concurrency === undefined ? {} : { concurrency: o.concurrency }),
    ...(o.chunkSize === undefined ? {} : { chunkSize: o.chunkSize }),
  };
}

/** The names a layout or archive destination is given (see CopyOptions.names). */
export function localNames(from: CopyEndpoint | undefined, to: CopyEndpoint, given: readonly string[] | undefined): string[] {
  const names = [...(given ?? [])].map((n) => {
    if (typeof n !== 'string') throw new ErrInvalidOption('names', 'an array of image names', given);
    return Reference.parse(n).toString();
  });
  const source = from?.kind === 'registry' ? from.reference : undefined;
  if (to.kind === 'layout' && to.name !== undefined) {
    if (!source) throw new ErrInvalidReference(`oci-layout:${to.path}:${to.name}`, 'a layout tag needs a registry source to name the image; give --tag NAME:TAG instead');
    names.unshift(`${source.name}:${to.name}`);
  } else if (names.length === 0 && source?.tag !== undefined) names.push(`${source.name}:${source.tag}`);
  return [...new Set(names)];
}

/** 'all', or the platforms asked for (each parsed, at least one); ErrOptionRange for a malformed one. */
export function platforms(value: CopyOptions['platform']): 'all' | Platform[] {
  if (value === undefined || value === 'all') return 'all';
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : Array.isArray(value) ? value : [value as Platform];
  if (list.length === 0) throw new ErrInvalidOption('platform', "'all', a platform or a list of them", value);
  return list.map((p) => parsePlatform(p as string | Platform));
}
