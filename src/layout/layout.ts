// An OCI image layout directory as a Destination: `oci-layout`, `blobs/sha256/<hex>`, `index.json`.
// A blob is written to a temp file in blobs/sha256/ and renamed to its digest once known, so the
// directory never holds a blob under a wrong name; index.json is replaced atomically, last, so it
// never lists a blob the directory does not hold. Existing layouts are added to (entries with the
// same names replaced), index.json under a lock (lock.ts) so that concurrent writers keep
// each other's tags. abort() removes only the files and folders this writer created.
// What an existing layout holds is untrusted: blobs/ and blobs/sha256/ must be real directories (a
// symlink there would put every blob outside the layout), index.json, oci-layout and manifests are
// read through the reader's safe opens (store.ts: no symlink, no FIFO, bounded), and a blob already
// there counts only when it is a regular file whose bytes hash to its name.
import { lstat, mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrInvalidOption, ErrOptionRange, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import { ErrLayout } from '../image/errors.js';
import type { Image, ImageIndex } from '../image/image.js';
import { isIndexType, isManifestType, OCI_INDEX } from '../core/media-types.js';
import { canonicalJSON } from '../image/json.js';
import type { Blob, Descriptor, Destination, ManifestBlob } from '../image/types.js';
import { writeImage, type WriteOptions, type WriteResult, WRITE_OPTION_KEYS } from '../image/write.js';
import { copyBlob } from './copy.js';
import { tempName, writeAtomic, writeTemp, WRITER_ERRORS } from './files.js';
import { trackTemporary, untrackTemporary } from '../core/temporaries.js';
import { directoryStore, readInside } from './store.js';
import { MANIFEST_CAP } from '../image/source.js';
import { LOCK_NAME, lockLayout } from './lock.js';
import { CONTAINERD_NAME, REF_NAME, indexEntries } from '../image/names.js';
import { isDigest } from '../core/hash.js';
import { referrerEntry } from '../image/referrer.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const OCI_LAYOUT_VERSION = '1.0.0';

/** `{"imageLayoutVersion":"1.0.0"}` is 30 bytes: anything much larger is not an oci-layout file. */
const OCI_LAYOUT_CAP = 4096;

export interface LayoutOptions {
  /** Streaming layers written at once (default 2). */
  concurrency?: number;
}

const LAYOUT_KEYS = optionKeys<LayoutOptions>({ concurrency: true });

function hexOf(digest: string): string {
  if (!isDigest(digest)) throw new ErrLayout(`unsupported digest ${JSON.stringify(digest)}`);
  return digest.slice(7);
}

/** A temp file of ours (files.ts: tempName). */
const TEMP_NAME = /^\..+\.fastlayer-\d+-[0-9a-f]+\.tmp$/;

/**
 * What a directory holds while another writer is creating a layout in it (its oci-layout is written
 * at commit): blobs/, the index lock, temp files. Such a directory is joined, not refused.
 */
function beingCreated(name: string): boolean {
  return name === 'blobs' || name === LOCK_NAME || TEMP_NAME.test(name);
}

/**
 * Whether `dir`'s blobs/ (if any) holds only what a layout writer puts there: sha256/, and in it blobs
 * named by their digest and temp files. A folder of the user's that happens to be called blobs (a
 * project's assets) is not a layout being created: writing into it could replace a file whose name
 * looks like a digest.
 */
async function blobsBeingCreated(dir: string): Promise<boolean> {
  const names = async (path: string): Promise<string[] | undefined> => {
    try {
      return await readdir(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      if (code === 'ENOTDIR') return undefined;
      throw new ErrLayout(`${path}: ${(err as Error).message}`, err);
    }
  };
  const blobs = await names(join(dir, 'blobs'));
  if (blobs === undefined || !blobs.every((n) => n === 'sha256')) return false;
  const sha256 = await names(join(dir, 'blobs', 'sha256'));
  return sha256 !== undefined && sha256.every((n) => /^[0-9a-f]{64}$/.test(n) || TEMP_NAME.test(n));
}

export class OciLayout implements Destination {
  readonly dir: string;
  readonly concurrency: number;
  #ready: Promise<void> | undefined;
  readonly #createdDirs: string[] = [];
  readonly #createdFiles = new Set<string>();
  readonly #temps = new Set<string>();
  /** Artifact manifests addReferrer listed: index.json entries beside the image, written at commit. */
  readonly #referrers: Descriptor[] = [];

  constructor(dir: string, options: LayoutOptions = {}) {
    if (typeof dir !== 'string' || dir === '') throw new ErrInvalidOption('dir', 'a directory path', dir);
    refuseUnknownOptions(options, LAYOUT_KEYS, 'new OciLayout()');
    const c = options.concurrency ?? 2;
    if (!Number.isInteger(c) || c < 1 || c > 64) throw new ErrOptionRange('concurrency', 'an integer from 1 to 64', c);
    this.dir = dir;
    this.concurrency = c;
  }

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', hexOf(digest));
  }

  /** The blob's name relative to the layout, for the safe reads of store.ts. */
  #blobName(digest: string): string {
    return `blobs/sha256/${hexOf(digest)}`;
  }

  /** Creates `path` if absent; refuses anything there that is not a real directory (lstat: no symlink). */
  async #directory(path: string): Promise<void> {
    await this.#mkdir(path);
    const st = await lstat(path);
    if (!st.isDirectory()) {
      throw new ErrLayout(`${path} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}: refusing to write blobs through it`);
    }
  }

  async #mkdir(path: string): Promise<void> {
    try {
      await mkdir(path);
      this.#createdDirs.push(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  #prepare(): Promise<void> {
    this.#ready ??= (async () => {
      let entries: string[] | undefined;
      try {
        entries = await readdir(this.dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ErrLayout(`${this.dir}: ${(err as Error).message}`, err);
      }
      if (entries === undefined) await this.#mkdir(this.dir);
      else if (entries.includes(OCI_LAYOUT_FILE)) {
        const bytes = await readInside(this.dir, OCI_LAYOUT_FILE, OCI_LAYOUT_CAP, WRITER_ERRORS);
        let version: unknown;
        try {
          version = (JSON.parse(bytes?.toString('utf8') ?? '') as { imageLayoutVersion?: unknown }).imageLayoutVersion;
        } catch {
          version = undefined;
        }
        // Only a short version string is repeated: not whatever bytes the file holds.
        const shown = typeof version === 'string' && version.length <= 32 ? JSON.stringify(version) : 'missing or unreadable';
        if (version !== OCI_LAYOUT_VERSION) throw new ErrLayout(`${this.dir}: oci-layout version ${shown} is not ${OCI_LAYOUT_VERSION}`);
      } else if (!entries.every(beingCreated) || !(await blobsBeingCreated(this.dir))) {
        throw new ErrLayout(`${this.dir} is a non-empty directory without oci-layout: refusing to write an image layout into it`);
      }
      await this.#directory(join(this.dir, 'blobs'));
      await this.#directory(join(this.dir, 'blobs', 'sha256'));
    })();
    return this.#ready;
  }

  /**
   * Whether the layout holds the blob: a regular file (not a symlink, FIFO or device) of its size
   * whose bytes hash to its digest. A wrong file of the right size would otherwise be kept and the
   * layout left corrupt; anything else under the name is false, so the blob is written over it.
   */
  async has(d: Descriptor): Promise<boolean> {
    await this.#prepare();
    try {
      const store = directoryStore(this.dir, WRITER_ERRORS);
      const name = this.#blobName(d.digest);
      if ((await store.size(name)) !== d.size) return false;
      for await (const chunk of store.open(name, d)) void chunk;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Renames `tmp` (bytes just written and verified) to `target`, atomically replacing whatever has()
   * refused there. Only a name that did not exist is this writer's to remove on abort.
   */
  async #place(tmp: string, target: string): Promise<void> {
    const existed = await lstat(target).then(() => true, () => false);
    try {
      await rename(tmp, target);
    } catch (err) {
      throw new ErrLayout(`${target}: cannot replace what is there: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
    }
    if (!existed) this.#createdFiles.add(target);
  }

  /** Writes bytes to a temp file beside the blobs, then renames it to the digest it turned out to have. */
  async writeBlob(blob: Blob, signal?: AbortSignal): Promise<Descriptor> {
    await this.#prepare();
    const tmp = tempName(join(this.dir, 'blobs', 'sha256', 'blob'));
    this.#temps.add(tmp);
    try {
      const fh = await open(tmp, 'wx', 0o644);
      // Only once it is ours: a second signal's cleanup (src/core/temporaries.ts) removes it.
      trackTemporary(tmp);
      let d: Descriptor;
      try {
        d = await copyBlob(blob, fh, 0, signal);
      } finally {
        await fh.close();
      }
      const target = this.blobPath(d.digest);
      if (await this.has(d)) await unlink(tmp);
      else await this.#place(tmp, target);
      return d;
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    } finally {
      this.#temps.delete(tmp);
      untrackTemporary(tmp);
    }
  }

  async writeManifest(m: ManifestBlob): Promise<void> {
    await this.#prepare();
    if (await this.has(m.descriptor)) return;
    const target = this.blobPath(m.descriptor.digest);
    const tmp = await writeTemp(target, m.bytes);
    this.#temps.add(tmp);
    try {
      await this.#place(tmp, target);
    } finally {
      await unlink(tmp).catch(() => undefined);
      this.#temps.delete(tmp);
      untrackTemporary(tmp);
    }
  }

  /**
   * The image layout spec has no referrers API: index.json (an image index) is where readers find
   * what a layout holds, so the artifact manifest is listed there, untagged, with its artifactType;
   * a reader finds the referrers of an image by the `subject` of those entries (layout/referrers.ts).
   * Listing it also keeps it reachable for tools that collect unreferenced blobs.
   */
  async addReferrer(m: ManifestBlob): Promise<void> {
    await this.#prepare();
    if (!this.#referrers.some((r) => r.digest === m.descriptor.digest)) this.#referrers.push(referrerEntry(m));
  }

  async commit(top: ManifestBlob, names: readonly string[], signal?: AbortSignal): Promise<void> {
    await this.#prepare();
    const layoutFile = join(this.dir, OCI_LAYOUT_FILE);
    try {
      await stat(layoutFile);
    } catch {
      await writeAtomic(layoutFile, canonicalJSON({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      this.#createdFiles.add(layoutFile);
    }
    // Another writer (process or not) may be adding its tags to this layout right now: index.json
    // is read, merged and replaced under the layout's lock, so that neither update is lost.
    const release = await lockLayout(this.dir, signal);
    try {
      await this.#updateIndex(top, names);
    } finally {
      await release();
    }
  }

  async #updateIndex(top: ManifestBlob, names: readonly string[]): Promise<void> {
    const added = indexEntries(top.descriptor, names);
    const existing = await this.#existingEntries();
    const taken = new Set(names);
    const refs = new Set(this.#referrers.map((r) => r.digest));
    const kept = existing.filter((e) => {
      // The same artifact attached again: one entry.
      if (refs.has(e.digest)) return false;
      const name = e.annotations?.[CONTAINERD_NAME];
      if (name !== undefined) return !taken.has(name);
      // An unnamed duplicate of what is being added, or an entry whose tag is reused by a new name.
      if (names.length === 0) return e.digest !== top.descriptor.digest;
      const tag = e.annotations?.[REF_NAME];
      return tag === undefined || !added.some((a) => a.annotations?.[REF_NAME] === tag);
    });
    // A blob this image shares with another writer's may have been removed by that writer's abort
    // (before it took the lock): then the index would list an incomplete image.
    const store = directoryStore(this.dir, WRITER_ERRORS);
    const missing: string[] = [];
    for (const hex of await this.#reachable([top.descriptor, ...this.#referrers])) {
      // A regular file only: a symlink or FIFO put there meanwhile is not the blob.
      if ((await store.size(`blobs/sha256/${hex}`).catch(() => undefined)) === undefined) missing.push(hex);
    }
    if (missing.length > 0) throw new ErrLayout(`${this.dir}: blob sha256:${missing[0]} of this image was removed (or replaced by something not a regular file) by another writer while it was written; run again`);
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...kept, ...added, ...this.#referrers] };
    await writeAtomic(join(this.dir, 'index.json'), canonicalJSON(index));
  }

  async #existingEntries(): Promise<Descriptor[]> {
    const bytes = await readInside(this.dir, 'index.json', MANIFEST_CAP, WRITER_ERRORS);
    if (bytes === undefined) return [];
    let parsed: { manifests?: unknown };
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
    } catch (err) {
      // JSON.parse quotes the text it failed on: the cause keeps it, the message does not.
      throw new ErrLayout(`${this.dir}/index.json is not an OCI index: not valid JSON`, err);
    }
    if (!Array.isArray(parsed?.manifests)) throw new ErrLayout(`${this.dir}/index.json is not an OCI index: no manifests array`);
    return parsed.manifests as Descriptor[];
  }

  /**
   * The blobs (hex digests) reachable from `roots`: the roots, and through every index and manifest
   * the directory holds, their children, configs and layers. A blob it cannot read adds nothing more.
   */
  async #reachable(roots: readonly Descriptor[]): Promise<Set<string>> {
    const seen = new Set<string>();
    const queue = [...roots];
    for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
      if (typeof d.digest !== 'string' || !isDigest(d.digest)) continue;
      const hex = d.digest.slice(7);
      if (seen.has(hex)) continue;
      seen.add(hex);
      if (!isIndexType(d.mediaType) && !isManifestType(d.mediaType)) continue;
      let doc: { manifests?: unknown; config?: unknown; layers?: unknown };
      try {
        const bytes = await readInside(this.dir, this.#blobName(d.digest), MANIFEST_CAP, WRITER_ERRORS);
        if (bytes === undefined) continue;
        doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
      } catch {
        continue;
      }
      for (const list of [doc.manifests, doc.layers, [doc.config]]) {
        if (Array.isArray(list)) for (const c of list) if (c && typeof c === 'object') queue.push(c as Descriptor);
      }
    }
    return seen;
  }

  async abort(): Promise<void> {
    for (const tmp of this.#temps) await unlink(tmp).catch(() => undefined);
    // A blob this writer created may meanwhile be listed by another writer's index.json (the same
    // base layer, written by both): under the lock, only blobs that index.json does not reach go.
    // Without the lock (or a readable index), the blobs stay: garbage is better than a broken image.
    let release: (() => Promise<void>) | undefined;
    try {
      if (this.#createdFiles.size > 0) release = await lockLayout(this.dir, undefined, 5_000);
      const kept = await this.#reachable(await this.#existingEntries());
      for (const file of this.#createdFiles) {
        // oci-layout stays while index.json lists anything: it is another writer's layout now.
        const keep = basename(file) === OCI_LAYOUT_FILE ? kept.size > 0 : kept.has(basename(file));
        if (!keep) await unlink(file).catch(() => undefined);
      }
    } catch {
      // keep them
    } finally {
      await release?.();
    }
    this.#createdFiles.clear();
    for (const dir of this.#createdDirs.reverse()) await rmdir(dir).catch(() => undefined);
    this.#createdDirs.length = 0;
  }
}

/** Writes `image` into the OCI layout directory `dir` (created, or added to). */
export async function writeLayout(image: Image | ImageIndex, dir: string, options: WriteOptions & LayoutOptions = {}): Promise<WriteResult> {
  refuseUnknownOptions(options, new Set([...WRITE_OPTION_KEYS, ...LAYOUT_KEYS]), 'writeLayout()');
  const { concurrency, ...rest } = options;
  return writeImage(image, new OciLayout(dir, concurrency === undefined ? {} : { concurrency }), rest);
}
