// How buildImage uses the layer caches with a destination it can ask: every hit is HEAD-checked in the
// destination before it is used, digest and size (a stale entry, or one whose size is not the blob's
// Content-Length, is compressed again, never referenced), a hit whose
// blob lives in another repository of the same registry is mounted from there, and the registry cache
// (registry-cache.ts) is read before the layers are hashed and written after the image is committed.
import type { Blob, Descriptor, Destination, ManifestBlob } from '../image/types.js';
import { ErrInvalidOption } from '../core/errors.js';
import { RegistryDestination } from '../registry/destination.js';
import { RegistryLayerCache, type RegistryLayerCacheOptions } from './registry-cache.js';
import type { CacheUse } from './layer-cache.js';

export interface PreparedCache {
  use: CacheUse;
  /** The destination to write to: the caller's, with the blobs verify found present not asked again. */
  destination: Destination | undefined;
  /** After a successful write: the registry cache's read-merge-write (failures go to onError). */
  finish(): Promise<void>;
}

export interface CacheSpec {
  cacheRepo?: string;
  cacheRepoOptions?: RegistryLayerCacheOptions;
  destination?: Destination;
  /** A registry cache that could not be read or written (the build goes on: the cache only saves work). */
  onCacheError?: (err: unknown) => void;
}

/** What remembering() keeps of a blob found present: its digest and its size, both checked by has(). */
export function presentKey(d: { digest: string; size: number }): string {
  return `${d.digest} ${d.size}`;
}

/**
 * A destination whose `has` answers true at once for the blobs (digest and size) found present while verifying.
 * Every optional method of Destination is forwarded (a missing one would silently turn a feature
 * off: referrers, name resolution); a test lists Destination's methods against this wrapper's.
 */
export function remembering(d: Destination, present: ReadonlySet<string>): Destination {
  return {
    concurrency: d.concurrency,
    ...(d.spoolAhead === undefined ? {} : { spoolAhead: d.spoolAhead }),
    has: async (desc: Descriptor) => present.has(presentKey(desc)) || d.has(desc),
    writeBlob: (blob: Blob, signal?: AbortSignal) => d.writeBlob(blob, signal),
    writeManifest: (m, signal) => d.writeManifest(m, signal),
    ...(typeof d.resolveNames === 'function' ? { resolveNames: (names: readonly string[]) => d.resolveNames!(names) } : {}),
    // Dropping it would make writeImage refuse referrers (an SBOM) for every push with a layer cache.
    ...(typeof d.addReferrer === 'function' ? { addReferrer: (m: ManifestBlob, subject: Descriptor, signal?: AbortSignal) => d.addReferrer!(m, subject, signal) } : {}),
    commit: (top, names, signal) => d.commit(top, names, signal),
    abort: (reason) => d.abort(reason),
  };
}

export async function prepareCache(spec: CacheSpec): Promise<PreparedCache> {
  const { destination } = spec;
  if (spec.onCacheError !== undefined && typeof spec.onCacheError !== 'function') throw new ErrInvalidOption('onCacheError', 'a function', spec.onCacheError);
  if (spec.cacheRepo !== undefined && destination === undefined) throw new ErrInvalidOption('cacheRepo', 'used with a registry destination (a push)', spec.cacheRepo);
  const onError = spec.onCacheError ?? ((): void => {});
  const shared = spec.cacheRepo === undefined ? undefined : new RegistryLayerCache(spec.cacheRepo, spec.cacheRepoOptions);
  if (destination === undefined) return { use: {}, destination, finish: async () => {} };
  if (shared) await shared.load().catch(onError);
  const target = destination instanceof RegistryDestination ? destination.reference : undefined;
  // Only a repository of the cache's own registry is worth naming in an entry: others cannot be mounted from.
  const where = target !== undefined && shared !== undefined && target.registry === shared.registry ? target.repository : undefined;
  const present = new Set<string>();
  const use: CacheUse = {
    ...(shared ? { shared: { get: (key) => shared.get(key), record: (key, entry) => shared.record(key, entry, where) } } : {}),
    verify: async (descriptor, origin) => {
      if (await destination.has(descriptor)) {
        present.add(presentKey(descriptor));
        return true;
      }
      // Mounted by the destination (uploadKnown) from the repository the entry names, once seen there.
      if (origin === undefined || shared === undefined || target === undefined) return false;
      if (origin.registry !== target.registry || origin.repository === target.repository) return false;
      return shared.holds(origin.repository, descriptor);
    },
  };
  return {
    use,
    destination: remembering(destination, present),
    finish: async () => {
      if (shared) await shared.save().catch(onError);
    },
  };
}
