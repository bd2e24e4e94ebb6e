// Pull: the registry's ImageSource (source.ts) with a platform chosen from an index: the manifest,
// then config and layers as known blobs whose open() streams from the registry and checks digest and
// size while streaming. pullToDestination writes it with writeImage; pull() hands out the parts.
import { arch as hostArch } from 'node:os';
import { Readable } from 'node:stream';
import type { Reference } from '../image/reference.js';
import type { Destination, KnownBlob, ManifestBlob, Platform } from '../image/types.js';
import { REGISTRY_OPTION_KEYS, connect, type RegistryOptions } from './client.js';
import { ErrRegistryNotFound } from './errors.js';
import { ErrInvalidOption, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import type { BaseImage } from '../image/image.js';
import { pulledBase } from './pulled-base.js';
import { DOCKER_CONFIG, isIndexType, OCI_CONFIG } from '../core/media-types.js';
import { registrySource, remoteBlob } from './source.js';
import { manifestParts, selectPlatforms } from '../image/source.js';
import { parsePlatform } from '../image/platform.js';
import { writeImage } from '../image/write.js';

export interface PullOptions extends RegistryOptions {
  /** `os/arch[/variant]` to choose from an index (default: linux and the host's architecture). */
  platform?: string | Platform;
}

const PULL_KEYS: ReadonlySet<string> = new Set([...REGISTRY_OPTION_KEYS, ...optionKeys<Omit<PullOptions, keyof RegistryOptions>>({ platform: true })]);

export interface PulledImage {
  readonly manifest: ManifestBlob;
  readonly config: KnownBlob;
  readonly layers: readonly KnownBlob[];
  readonly reference: Reference;
  /** The index the reference named, when it named one. */
  readonly index?: ManifestBlob;
  /**
   * This image as the base of a new Image (`new Image({ base: pulled })` calls it): the config is
   * inherited, the layers are fetched only if a destination needs their bytes (a push to the same
   * registry mounts them). ErrBaseImage when the config is not an image config.
   */
  asBase(): BaseImage;
}

/** Largest image config read into memory (a base's config is parsed; layers never are). */
const MAX_CONFIG = 16 * 1024 * 1024;
const IMAGE_CONFIGS = new Set([OCI_CONFIG, DOCKER_CONFIG]);

const ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

export function defaultPlatform(): Platform {
  return { os: 'linux', architecture: ARCH[hostArch()] ?? hostArch() };
}

/** Reads the manifest of `ref` and returns the image with lazily streamed, verified blobs. */
export async function pull(ref: string | Reference, options: PullOptions = {}): Promise<PulledImage> {
  refuseUnknownOptions(options, PULL_KEYS, 'pull()');
  if (options.platform !== undefined && typeof options.platform !== 'string' && (typeof options.platform !== 'object' || options.platform === null)) {
    throw new ErrInvalidOption('platform', 'a string "os/arch[/variant]" or a Platform', options.platform);
  }
  // Checked before anything is fetched: a malformed platform is the caller's error, not the registry's.
  const want = parsePlatform(options.platform ?? defaultPlatform());
  const repo = connect(ref, options);
  const source = registrySource(repo, options);
  const top = await source.manifest(await source.top());
  const index = isIndexType(top.descriptor.mediaType) ? top : undefined;
  let manifest = top;
  let listed: Platform | undefined;
  if (index) {
    const chosen = await selectPlatforms(source, [want]);
    const d = await chosen.top();
    if (isIndexType(d.mediaType)) throw new ErrRegistryNotFound(`${d.digest} is a nested index; choose one of its images by digest`);
    manifest = await chosen.manifest(d);
    listed = d.platform;
  }
  const parsed = manifestParts(source, manifest);
  const blob = (d: (typeof parsed)['config']): KnownBlob => remoteBlob(repo, d, options.signal);
  // An image config is small and always needed (to write the image, or to build on it): it is read
  // once here, verified, and served from memory after; the layers stay lazy.
  let config = blob(parsed.config);
  let configBytes: Buffer | undefined;
  if (IMAGE_CONFIGS.has(parsed.config.mediaType) && parsed.config.size <= MAX_CONFIG) {
    configBytes = await collect(config.open());
    const bytes = configBytes;
    config = { ...config, open: () => Readable.from([bytes]) };
  }
  const where = repo.reference.toString();
  const configProblem = configBytes !== undefined ? undefined
    : IMAGE_CONFIGS.has(parsed.config.mediaType) ? `its config has ${parsed.config.size} bytes, more than the ${MAX_CONFIG} a base's config may have`
    : `its config is ${parsed.config.mediaType}, not an image config`;
  // Base layers fail as a base's blobs do (ERR_DIGEST_MISMATCH) when the registry sends other bytes.
  const baseLayers = parsed.layers.map((d) => remoteBlob(repo, d, options.signal, true));
  return {
    reference: repo.reference,
    manifest,
    config,
    layers: parsed.layers.map(blob),
    ...(index ? { index } : {}),
    asBase: () => pulledBase({ source: where, configBytes, configProblem, layers: baseLayers, listed }),
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Pulls `ref` and writes it into `destination` (layout, archive, registry) in writeImage's order. */
export async function pullToDestination(ref: string | Reference, destination: Destination, options: PullOptions = {}): Promise<ManifestBlob> {
  refuseUnknownOptions(options, PULL_KEYS, 'pullToDestination()');
  const { platform, ...registryOptions } = options;
  const repo = connect(ref, registryOptions);
  const source = await selectPlatforms(registrySource(repo, registryOptions), [parsePlatform(platform ?? defaultPlatform())]);
  const r = repo.reference;
  // A layout or archive is given the source's name; a registry tags with its own reference's tag.
  const names = typeof destination.resolveNames === 'function' || r.tag === undefined ? [] : [`${r.name}:${r.tag}`];
  const written = await writeImage(source, destination, { names, ...(options.signal ? { signal: options.signal } : {}) });
  return source.manifest(written.descriptor);
}
