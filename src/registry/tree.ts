// Drives any Destination with an image or index whose blobs are all known (pulled, or read from a
// layout), in writeImage's order: blobs (skipped when present), config, manifests children first,
// then commit with the names; abort on failure.
import type { Destination, KnownBlob, ManifestBlob } from '../image/types.js';

export interface KnownImage {
  readonly manifest: ManifestBlob;
  readonly config: KnownBlob;
  readonly layers: readonly KnownBlob[];
}

export interface KnownIndex {
  readonly index: ManifestBlob;
  readonly children: readonly (KnownImage | KnownIndex)[];
}

export async function writeKnown(
  destination: Destination,
  top: KnownImage | KnownIndex,
  names: readonly string[],
  signal?: AbortSignal,
): Promise<ManifestBlob> {
  try {
    const done = new Set<string>();
    const manifest = await write(destination, top, done, signal);
    await destination.commit(manifest, names, signal);
    return manifest;
  } catch (err) {
    await destination.abort(err).catch(() => {});
    throw err;
  }
}

async function write(destination: Destination, node: KnownImage | KnownIndex, done: Set<string>, signal?: AbortSignal): Promise<ManifestBlob> {
  // A pulled image carries the index it was chosen from (`index`) but is an image: tell by `children`.
  if ('children' in node) {
    for (const child of node.children) await write(destination, child, done, signal);
    await destination.writeManifest(node.index, signal);
    return node.index;
  }
  const unique = node.layers.filter((l) => !done.has(l.descriptor.digest) && done.add(l.descriptor.digest));
  await bounded(unique, destination.concurrency, async (blob) => {
    if (!(await destination.has(blob.descriptor))) await destination.writeBlob(blob, signal);
  });
  if (!done.has(node.config.descriptor.digest)) {
    done.add(node.config.descriptor.digest);
    if (!(await destination.has(node.config.descriptor))) await destination.writeBlob(node.config, signal);
  }
  await destination.writeManifest(node.manifest, signal);
  return node.manifest;
}

/** Runs `fn` over `items` with at most `limit` at once; the first failure stops new work and is thrown. */
export async function bounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}
