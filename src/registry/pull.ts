// Pull: the manifest (a platform chosen from an index), then config and layers as known blobs whose
// open() streams from the registry and checks digest and size while streaming. The result is plain
// data any Destination (layout, archive, another registry) can be driven with.
import { arch as hostArch } from 'node:os';
import { Readable } from 'node:stream';
import type { Reference } from '../image/reference.js';
import type { Destination, KnownBlob, ManifestBlob, Platform } from '../image/types.js';
import { REGISTRY_OPTION_KEYS, anySignal, connect, pullScope, type RegistryOptions, type Repository } from './client.js';
import { ErrRegistry, ErrRegistryDigestMismatch, ErrRegistryNotFound, ErrRegistryUnavailable, describeCause } from './errors.js';
import { ErrInvalidOption, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { ErrDigestMismatch } from '../core/errors.js';
import { verifiedStream, type Expected, type Mismatch } from '../core/verify.js';
import type { BaseImage } from '../image/image.js';
import { DOCKER_CONFIG, OCI_CONFIG } from '../core/media-types.js';
import { pulledBase } from './pulled-base.js';
import { getManifest, type ManifestTarget } from './manifest.js';
import { isIndexType } from '../core/media-types.js';
import { imageManifest, indexManifests } from './parse.js';
import { writeKnown, type KnownImage } from './tree.js';

export interface PullOptions extends RegistryOptions {
  /** `os/arch[/variant]` to choose from an index (default: linux and the host's architecture). */
  platform?: string | Platform;
}

const PULL_KEYS: ReadonlySet<string> = new Set([...REGISTRY_OPTION_KEYS, ...optionKeys<Omit<PullOptions, keyof RegistryOptions>>({ platform: true })]);

export interface PulledImage extends KnownImage {
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

export function parsePlatform(value: string | Platform): Platform {
  if (typeof value !== 'string') return value;
  const [os, architecture, variant] = value.split('/');
  if (!os || !architecture) throw new ErrInvalidOption('platform', 'a string "os/arch[/variant]" or a Platform', value);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Reads the manifest of `ref` and returns the image with lazily streamed, verified blobs. */
export async function pull(ref: string | Reference, options: PullOptions = {}): Promise<PulledImage> {
  refuseUnknownOptions(options, PULL_KEYS, 'pull()');
  if (options.platform !== undefined && typeof options.platform !== 'string' && (typeof options.platform !== 'object' || options.platform === null)) {
    throw new ErrInvalidOption('platform', 'a string "os/arch[/variant]" or a Platform', options.platform);
  }
  const repo = connect(ref, options);
  const target: ManifestTarget = { transport: repo.transport, repository: repo.repository, scopes: [pullScope(repo.repository)], signal: options.signal };
  const id = repo.reference.identifier;
  let manifest = await getManifest(target, id);
  let index: ManifestBlob | undefined;
  if (isIndexType(manifest.descriptor.mediaType)) {
    index = manifest;
    const want = parsePlatform(options.platform ?? defaultPlatform());
    const children = indexManifests(manifest.bytes, `index ${id}`);
    const chosen = children.find((d) => d.platform && matches(d.platform, want));
    if (!chosen) {
      const have = children.map((d) => (d.platform ? `${d.platform.os}/${d.platform.architecture}${d.platform.variant ? `/${d.platform.variant}` : ''}` : '?')).join(', ');
      throw new ErrRegistryNotFound(`${repo.reference.toString()} has no image for ${want.os}/${want.architecture}${want.variant ? `/${want.variant}` : ''} (it has: ${have})`);
    }
    manifest = await getManifest(target, chosen.digest);
    if (isIndexType(manifest.descriptor.mediaType)) throw new ErrRegistryNotFound(`${chosen.digest} is a nested index; choose one of its images by digest`);
    if (manifest.descriptor.size !== chosen.size) {
      throw new ErrRegistryDigestMismatch(`manifest ${chosen.digest} has ${manifest.descriptor.size} bytes, its index says ${chosen.size}`);
    }
  }
  const parsed = imageManifest(manifest.bytes, `manifest ${manifest.descriptor.digest}`);
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
  const source = repo.reference.toString();
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
    asBase: () => pulledBase({ source, configBytes, configProblem, layers: baseLayers }),
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function matches(have: Platform, want: Platform): boolean {
  if (have.os !== want.os || have.architecture !== want.architecture) return false;
  if (want.variant === undefined) return true;
  return (have.variant ?? (have.architecture === 'arm64' ? 'v8' : undefined)) === want.variant;
}

/** Pulls `ref` and writes it into `destination` (layout, archive, registry) in writeImage's order. */
export async function pullToDestination(ref: string | Reference, destination: Destination, options: PullOptions = {}): Promise<ManifestBlob> {
  refuseUnknownOptions(options, PULL_KEYS, 'pullToDestination()');
  const image = await pull(ref, options);
  const r = image.reference;
  return writeKnown(destination, image, r.tag === undefined ? [] : [`${r.name}:${r.tag}`], options.signal);
}

export function remoteBlob(repo: Repository, descriptor: KnownBlob['descriptor'], signal: AbortSignal | undefined, asBase = false): KnownBlob {
  const where = `${repo.registry}/${repo.repository}`;
  // Bytes that are not the descriptor's: a base's blob says so as local bases do, a pull as the registry errors do.
  const mismatch = (m: Mismatch): Error => {
    const d = m.expected;
    const got = m.kind === 'longer' ? `more than ${d.size} bytes` : `${m.digest} (${m.seen} bytes)`;
    if (asBase) return new ErrDigestMismatch(`${d.digest} (${d.size} bytes)`, got, `base blob from ${where}`);
    if (m.kind === 'longer') return new ErrRegistryDigestMismatch(`blob ${d.digest} from ${repo.repository} is longer than its ${d.size} bytes`);
    return new ErrRegistryDigestMismatch(`blob ${d.digest} from ${repo.repository} arrived as ${m.digest} with ${m.seen} bytes (expected ${d.size})`);
  };
  return {
    kind: 'known',
    descriptor,
    origin: { registry: repo.registry, repository: repo.repository },
    open: () => verifiedStream(new RemoteBody(repo, descriptor, signal, mismatch), descriptor, { mismatch }),
  };
}

/**
 * The body of one blob as the registry sends it; verifiedStream checks it. A Content-Length other
 * than the descriptor's size fails before the body is read; a broken connection names the blob.
 */
class RemoteBody extends Readable {
  readonly #repo: Repository;
  readonly #expected: Expected;
  readonly #signal: AbortSignal | undefined;
  readonly #mismatch: (m: Mismatch) => Error;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #started = false;
  #pending = false;
  #seen = 0;
  readonly #abort = new AbortController();

  constructor(repo: Repository, expected: Expected, signal: AbortSignal | undefined, mismatch: (m: Mismatch) => Error) {
    super({ highWaterMark: 1024 * 1024 });
    this.#repo = repo;
    this.#expected = expected;
    this.#signal = signal;
    this.#mismatch = mismatch;
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#start().then(
        () => this.#pump(),
        (err: unknown) => this.destroy(err as Error),
      );
    } else if (this.#reader) this.#pump();
  }

  async #start(): Promise<void> {
    const { transport, repository } = this.#repo;
    const { digest, size } = this.#expected;
    const url = transport.url(`${repository}/blobs/${digest}`);
    const signal = anySignal(this.#signal, this.#abort.signal);
    const res = await transport.request({ method: 'GET', url, scopes: [pullScope(repository)], signal }, [200], `getting blob ${digest} from ${repository}`);
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length !== size) {
      await res.body?.cancel().catch(() => {});
      throw length > size
        ? this.#mismatch({ kind: 'longer', expected: this.#expected, seen: length })
        : this.#mismatch({ kind: 'different', expected: this.#expected, seen: length, digest: `Content-Length ${length}` });
    }
    if (res.body === null) throw this.#mismatch({ kind: 'different', expected: this.#expected, seen: 0, digest: 'no body' });
    this.#reader = res.body.getReader();
  }

  #pump(): void {
    const reader = this.#reader;
    if (!reader || this.#pending) return;
    this.#pending = true;
    reader.read().then(
      ({ done, value }) => {
        this.#pending = false;
        if (this.destroyed) return;
        if (done) return void this.push(null);
        this.#seen += value.byteLength;
        if (this.push(value)) this.#pump();
      },
      (err: unknown) => {
        this.#pending = false;
        if (this.destroyed) return;
        // undici says only "terminated" when the connection breaks mid-body: name the registry and blob.
        // A body failure the transport already coded (timeouts.ts) is named here too; other coded errors pass.
        const broke = !(err instanceof ErrRegistry) || err instanceof ErrRegistryUnavailable;
        if (!broke || (err as { name?: string } | null)?.name === 'AbortError') return this.destroy(err as Error);
        const { registry, repository } = this.#repo;
        const why = err instanceof ErrRegistryUnavailable ? err.message : describeCause(err);
        this.destroy(
          new ErrRegistryUnavailable(
            `blob ${this.#expected.digest} from ${registry}/${repository}: the connection broke after ${this.#seen} of ${this.#expected.size} bytes (${why})`,
            { cause: err },
          ),
        );
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#abort.abort();
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader) reader.cancel().catch(() => {});
    callback(error);
  }
}
