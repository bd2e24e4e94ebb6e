// The one writer of images, built or read (any ImageSource, source.ts), and the one place that
// keeps the order streaming forces (docs/ARCHITECTURE.md): the blobs a source must produce first (a
// built image's layers: every streaming one passed once straight into the destination, collecting
// digests and diffIDs); then each config (now complete), each manifest, the index; then the names,
// last. Known blobs the destination already holds are skipped. Any failure aborts the destination
// and rethrows.
// Streaming layers are compressed several at once (the destination's concurrency, or spool.ts for a
// destination that takes blobs one at a time in order), under the process's thread budget
// (src/engine/budget.ts): each gets an equal share of it, and waits when none is free.
import { ErrInvalidOption, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { ErrBaseImage } from './errors.js';
import { blobDiffID } from './built-source.js';
import { Reference } from './reference.js';
import type { Blob, Descriptor, Destination, KnownBlob, ManifestBlob } from './types.js';
import { indexEntries, isImageSource, manifestParts, MAX_INDEX_DEPTH, type ImageSource } from './source.js';
import { isIndexType } from '../core/media-types.js';
import { artifactManifest, checkReferrerContent, type ReferrerContent } from './referrer.js';
import { threadBudget, type ThreadBudget } from '../engine/budget.js';
import { linkedAbort, withThreads, writeInOrder, type Spooled } from './spool.js';

export type WriteProgress =
  | { type: 'blob'; digest: string; size: number; mediaType: string; skipped: boolean }
  | { type: 'manifest'; digest: string; mediaType: string }
  | { type: 'commit'; digest: string; names: readonly string[] };

export interface WriteOptions {
  /** Image names (normalised as Docker does: `app` is `docker.io/library/app:latest`). */
  names?: readonly string[];
  signal?: AbortSignal;
  onProgress?: (event: WriteProgress) => void;
  /**
   * Artifacts to attach to the written top manifest (or index) as OCI 1.1 referrers (referrer.ts):
   * written after the image and listed by the destination (addReferrer) before the names are bound.
   */
  referrers?: readonly ReferrerContent[];
}

/** WriteOptions' names, for the writers that take them among their own (layout.ts, archive.ts). */
export const WRITE_OPTION_KEYS = optionKeys<WriteOptions>({ names: true, signal: true, onProgress: true, referrers: true });

export interface WrittenImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  diffIDs: string[];
}

export interface WriteResult {
  /** The top-level manifest or index. */
  descriptor: Descriptor;
  digest: string;
  /** Fully qualified names it was committed under. */
  names: string[];
  images: WrittenImage[];
  /** The artifact manifests attached as referrers (WriteOptions.referrers), in the order given. */
  referrers?: Descriptor[];
}

export { bytesBlob } from './manifest.js';

interface Written {
  descriptor: Descriptor;
  diffID: string;
}

function check(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new Error('aborted');
}

/** Runs `tasks` in order with at most `limit` at once; the first failure stops new ones starting. */
async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  let failed: { cause: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        results[i] = await task(i);
      } catch (cause) {
        failed ??= { cause };
      }
    }
  };
  const workers = Number.isInteger(limit) && limit > 0 ? Math.min(limit, count) : 1;
  await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  if (failed) throw failed.cause;
  return results;
}

/**
 * Writes any ImageSource (source.ts): a built Image or ImageIndex, a layout, an archive, a registry
 * image, into `destination`. A source's manifests are written byte for byte (digests unchanged)
 * and its blobs are opened only when the destination lacks them.
 */
export async function writeImage(top: ImageSource, destination: Destination, options: WriteOptions = {}): Promise<WriteResult> {
  if (!isImageSource(top)) throw new ErrInvalidOption('image', 'an Image, ImageIndex or ImageSource', top);
  refuseUnknownOptions(options, WRITE_OPTION_KEYS, 'writeImage()');
  // Found now, not as a TypeError from the first event after blobs were written.
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new ErrInvalidOption('onProgress', 'a function', options.onProgress);
  if (options.names !== undefined && !Array.isArray(options.names)) throw new ErrInvalidOption('names', 'an array of image names', options.names);
  // `app` and `app:latest` are one name: listed once. A destination that binds names its own way (a
  // registry: `latest` is a tag of its repository) resolves them, refusing any it cannot bind, before
  // anything is written: the result lists exactly the names commit binds.
  const names = typeof destination.resolveNames === 'function'
    ? destination.resolveNames(options.names ?? [])
    : [...new Set((options.names ?? []).map((n) => Reference.parse(n).toString()))];
  const { signal, onProgress } = options;
  const referrers = options.referrers ?? [];
  if (!Array.isArray(referrers)) throw new ErrInvalidOption('referrers', 'an array', referrers);
  referrers.forEach((r, i) => checkReferrerContent(r, `referrers[${i}]`));
  if (referrers.length > 0 && typeof destination.addReferrer !== 'function') {
    throw new ErrInvalidOption('referrers', 'absent: this destination cannot hold referrers', referrers);
  }
  let committed = false;
  try {
    check(signal);
    const { final, images: result } = await writeSource(top, destination, signal, onProgress);
    // Referrers before the names: a failure here aborts, and no name points at an image whose SBOM
    // was asked for but is missing.
    const attached: Descriptor[] = [];
    for (const content of referrers) {
      const artifact = artifactManifest(final.descriptor, content);
      for (const blob of artifact.blobs) await writeKnownBlob(blob, destination, signal, onProgress);
      check(signal);
      await destination.writeManifest(artifact.manifest, signal);
      onProgress?.({ type: 'manifest', digest: artifact.manifest.descriptor.digest, mediaType: artifact.manifest.descriptor.mediaType });
      await destination.addReferrer!(artifact.manifest, final.descriptor, signal);
      attached.push(artifact.manifest.descriptor);
    }
    check(signal);
    await destination.commit(final, names, signal);
    // From here the names point at a complete image: nothing may be removed any more.
    committed = true;
    onProgress?.({ type: 'commit', digest: final.descriptor.digest, names });
    const descriptor: Descriptor = { mediaType: final.descriptor.mediaType, digest: final.descriptor.digest, size: final.descriptor.size };
    return { descriptor, digest: descriptor.digest, names, images: result, ...(attached.length > 0 ? { referrers: attached } : {}) };
  } catch (err) {
    if (!committed) await destination.abort(err).catch(() => undefined);
    throw err;
  }
}

/**
 * An ImageSource: first the blobs it must produce (a built image's layers: streaming ones passed
 * once, straight in), then, depth first, each image's other blobs (a digest once; skipped when the
 * destination has it), its config, its manifest; an index after its children; each manifest and
 * index once, however often the indexes list it. Manifests are the
 * source's bytes. For a built image this is the order streaming forces: every layer, then each
 * config (which needs the diffIDs), each manifest (which needs the digests), the index.
 */
async function writeSource(source: ImageSource, destination: Destination, signal: AbortSignal | undefined, onProgress: WriteOptions['onProgress']): Promise<{ final: ManifestBlob; images: WrittenImage[] }> {
  // Each blob written once, keyed by digest, with the size and the manifest that first listed it: a
  // later descriptor of the same digest with another size is refused as a wrong-size blob is (it was
  // skipped as written, and the copy was a layout that fastlayer itself then refused to read).
  const done = new Map<string, { size: number; by: string }>();
  const fresh = (d: Descriptor, by: string): boolean => {
    const seen = done.get(d.digest);
    if (seen === undefined) {
      done.set(d.digest, { size: d.size, by });
      return true;
    }
    if (seen.size !== d.size) throw source.invalid(`${source.where}: blob ${d.digest} is listed with ${seen.size} bytes by ${seen.by} and with ${d.size} bytes by ${by}`);
    return false;
  };
  // The diffIDs of the produced layers; a read image's are in its config, not read when the destination has it.
  const diffIDs = new Map<string, string>();
  if (typeof source.produce === 'function') {
    const produced = await writeLayers(source.produce(), destination, signal, onProgress);
    for (const { descriptor, diffID } of produced) {
      fresh(descriptor, 'a layer built here');
      diffIDs.set(descriptor.digest, diffID);
    }
  }
  const images: WrittenImage[] = [];
  // Each manifest and index is read, written and listed in `images` once, as each blob is: an index
  // that lists a child index N times, which lists a manifest N times, was N^depth visits (each a
  // read, a hash and, to a registry, a PUT): about 10^8 from two small blobs at 10,000 entries and 4
  // levels. A manifest is written before the index that lists it returns, so a repeat is already
  // in place: children still come before their parents. The key is the whole descriptor's identity
  // (a digest listed with another media type or size is checked and written as it says).
  const visited = new Map<string, ManifestBlob>();
  const visit = async (d: Descriptor, depth: number): Promise<ManifestBlob> => {
    if (depth > MAX_INDEX_DEPTH) throw source.invalid(`${source.where}: indexes nested deeper than ${MAX_INDEX_DEPTH} levels`);
    const key = `${d.mediaType} ${d.digest} ${d.size}`;
    const seen = visited.get(key);
    if (seen !== undefined) return seen;
    check(signal);
    const manifest = await source.manifest(d);
    if (isIndexType(manifest.descriptor.mediaType)) {
      for (const child of indexEntries(source, manifest)) await visit(child, depth + 1);
    } else {
      const { config, layers } = manifestParts(source, manifest);
      // The layers, then the config, as for a built image.
      const by = `manifest ${manifest.descriptor.digest}`;
      const toWrite = layers.filter((l) => fresh(l, by));
      await pool(toWrite.length, destination.concurrency, async (i) => writeKnownBlob(await source.blob(toWrite[i]!), destination, signal, onProgress));
      if (fresh(config, by)) await writeKnownBlob(await source.blob(config), destination, signal, onProgress);
      const ids = layers.map((l) => diffIDs.get(l.digest));
      images.push({ manifest: manifest.descriptor, config, layers, diffIDs: ids.every((id) => id !== undefined) ? ids : [] });
    }
    check(signal);
    await destination.writeManifest(manifest, signal);
    onProgress?.({ type: 'manifest', digest: manifest.descriptor.digest, mediaType: manifest.descriptor.mediaType });
    visited.set(key, manifest);
    return manifest;
  };
  const final = await visit(await source.top(), 0);
  return { final, images };
}

async function writeKnownBlob(blob: KnownBlob, destination: Destination, signal: AbortSignal | undefined, onProgress: WriteOptions['onProgress']): Promise<Descriptor> {
  check(signal);
  const d = blob.descriptor;
  if (await destination.has(d)) {
    onProgress?.({ type: 'blob', digest: d.digest, size: d.size, mediaType: d.mediaType, skipped: true });
    return d;
  }
  const out = await destination.writeBlob(blob, signal);
  onProgress?.({ type: 'blob', digest: out.digest, size: out.size, mediaType: out.mediaType, skipped: false });
  return out;
}

/**
 * Most layers an in-order destination (an archive) has compressed at once: the rest wait on disk. It
 * spools ahead only where each layer still gets 2 threads (a budget of 4 or more): the spool's extra
 * write, read and digest check cost more than they give on fewer cores (docs/PERFORMANCE.md).
 */
export const MAX_ORDERED_LANES = 4;
const orderedLanes = (capacity: number): number => Math.min(MAX_ORDERED_LANES, Math.floor(capacity / 2));

/**
 * The layers of a built image, several at once: `lanes` of them, each with an equal share of the
 * thread budget. The first failure aborts the others (their destinations clean up after them).
 */
async function writeLayers(tasks: readonly Blob[], destination: Destination, signal: AbortSignal | undefined, onProgress: WriteOptions['onProgress']): Promise<Written[]> {
  const budget = threadBudget();
  const streaming = tasks.filter((t) => t.kind === 'streaming').length;
  const ordered = !(destination.concurrency > 1) && destination.spoolAhead === true;
  const lanes = Math.max(1, Math.min(streaming, ordered ? orderedLanes(budget.capacity) : destination.concurrency || 1));
  const share = Math.max(1, Math.floor(budget.capacity / lanes));
  if (ordered) {
    return writeInOrder(tasks, lanes, budget, share, signal, {
      direct: (i, inner) => writeLayer(tasks[i]!, destination, signal, onProgress, budget, share, inner),
      spooled: (i, spool, inner) => writeSpooled(spool, destination, signal, onProgress, inner),
    });
  }
  const link = linkedAbort(signal);
  try {
    return await pool(tasks.length, destination.concurrency, (i) =>
      writeLayer(tasks[i]!, destination, signal, onProgress, budget, share, link.signal).catch((err: unknown) => {
        link.abort(err);
        throw err;
      }));
  } finally {
    link.dispose();
  }
}

async function writeSpooled(spool: Spooled, destination: Destination, signal: AbortSignal | undefined, onProgress: WriteOptions['onProgress'], inner: AbortSignal): Promise<Written> {
  check(signal);
  const descriptor = await destination.writeBlob(spool.blob, inner);
  onProgress?.({ type: 'blob', digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType, skipped: false });
  return { descriptor, diffID: spool.diffID };
}

async function writeLayer(
  blob: Blob, destination: Destination, signal: AbortSignal | undefined, onProgress: WriteOptions['onProgress'],
  budget?: ThreadBudget, share = Infinity, inner: AbortSignal | undefined = signal,
): Promise<Written> {
  if (blob.kind === 'known') {
    const diffID = blobDiffID(blob);
    if (diffID === undefined) throw new ErrBaseImage(`layer ${blob.descriptor.digest} has no diffID: a config cannot list it`);
    return { descriptor: await writeKnownBlob(blob, destination, inner, onProgress), diffID };
  }
  check(signal);
  const write = () => destination.writeBlob(blob, inner);
  const descriptor = budget === undefined ? await write() : await withThreads(blob.layer, budget, share, inner, write);
  onProgress?.({ type: 'blob', digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType, skipped: false });
  return { descriptor, diffID: blobDiffID(blob)! };
}
