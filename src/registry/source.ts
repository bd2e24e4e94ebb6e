// The ImageSource (src/image/source.ts) of a registry image, lazy: the top manifest is fetched when
// asked for, each manifest below it when the writer reaches it, and a blob's bytes only when a
// destination opens it (a registry destination in the same registry HEADs it or mounts it from the
// origin every blob carries, and never downloads it). Manifests are checked against the digest they
// were asked by (manifest.ts) and their index's size; blobs as they stream (remoteBlob, below).
import { Readable } from 'node:stream';
import type { Reference } from '../image/reference.js';
import type { KnownBlob } from '../image/types.js';
import { ErrDigestMismatch } from '../core/errors.js';
import { verifiedStream, type Expected, type Mismatch } from '../core/verify.js';
import type { ImageSource } from '../image/source.js';
import { anySignal, connect, pullScope, type RegistryOptions, type Repository } from './client.js';
import { ErrRegistry, registryDigestMismatch, ErrRegistryNotFound, ErrRegistryProtocol, ErrRegistryUnavailable, describeCause } from './errors.js';
import { getManifest, type ManifestTarget } from './manifest.js';

export function manifestTarget(repo: Repository, signal: AbortSignal | undefined): ManifestTarget {
  return { transport: repo.transport, repository: repo.repository, scopes: [pullScope(repo.repository)], signal };
}

/** `ref` in its registry as an ImageSource; nothing is fetched until the writer asks. */
export function registrySource(ref: string | Reference | Repository, options: RegistryOptions = {}): ImageSource {
  const repo = typeof ref === 'object' && 'transport' in ref ? ref : connect(ref, options);
  const target = manifestTarget(repo, options.signal);
  let top: ReturnType<typeof getManifest> | undefined;
  const fetchTop = (): ReturnType<typeof getManifest> => (top ??= getManifest(target, repo.reference.identifier));
  return {
    where: repo.reference.toString(),
    top: async () => (await fetchTop()).descriptor,
    async manifest(d) {
      const t = await fetchTop();
      // The top, fetched once by its tag or digest: not again by digest.
      if (d.digest === t.descriptor.digest && d.size === t.descriptor.size) return { descriptor: { ...t.descriptor, mediaType: d.mediaType }, bytes: t.bytes };
      // getManifest checks the bytes against the digest asked for; the size is the index's to check.
      const m = await getManifest(target, d.digest);
      if (m.descriptor.size !== d.size) throw registryDigestMismatch(`manifest ${d.digest} has ${m.descriptor.size} bytes, its index says ${d.size}`);
      return { descriptor: { ...m.descriptor, mediaType: d.mediaType }, bytes: m.bytes };
    },
    // The blob's origin lets a destination in the same registry mount it instead of moving bytes.
    blob: async (d) => remoteBlob(repo, d, options.signal),
    invalid: (message) => new ErrRegistryProtocol(message),
    missing: (message) => new ErrRegistryNotFound(message),
  };
}

export function remoteBlob(repo: Repository, descriptor: KnownBlob['descriptor'], signal: AbortSignal | undefined, asBase = false): KnownBlob {
  const where = `${repo.registry}/${repo.repository}`;
  // Bytes that are not the descriptor's: a base's blob says so as local bases do, a pull as the registry errors do.
  const mismatch = (m: Mismatch): Error => {
    const d = m.expected;
    const got = m.kind === 'longer' ? `more than ${d.size} bytes` : `${m.digest} (${m.seen} bytes)`;
    if (asBase) return new ErrDigestMismatch(`${d.digest} (${d.size} bytes)`, got, `base blob from ${where}`);
    if (m.kind === 'longer') return registryDigestMismatch(`blob ${d.digest} from ${repo.repository} is longer than its ${d.size} bytes`);
    return registryDigestMismatch(`blob ${d.digest} from ${repo.repository} arrived as ${m.digest} with ${m.seen} bytes (expected ${d.size})`);
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
    // A Content-Length of encoded bytes (a proxy that compressed anyway, fetch decodes) says nothing of
    // the blob's size: the bytes are still counted and hashed as they come.
    const encoded = !/^(identity)?$/i.test((res.headers.get('content-encoding') ?? '').trim());
    const length = encoded ? NaN : Number(res.headers.get('content-length') ?? NaN);
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
