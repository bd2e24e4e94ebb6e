// One uncompressed tar holding an OCI layout and docker-save's manifest.json, as `docker save` writes
// since Docker 25: blobs/sha256/<hex>, index.json (one entry per name, containerd and OCI name
// annotations), manifest.json (Config/RepoTags/Layers, single-platform images), oci-layout.
//
// A streaming layer's name and size are unknown until its end, and a tar header comes before the data:
// the writer leaves a placeholder block, streams the data after it, then writes the real header into
// the placeholder (positioned writes into the temp file that becomes the archive). The bytes are
// written once and never held whole in memory. A blob that turns out to be there already is cut off
// again (ftruncate), so no blob is listed twice. The archive is built under a temp name beside the
// target and renamed at the end: a failed run leaves nothing under the final name. To a stream (a pipe,
// stdout) the archive is staged in a temp file first, since a pipe cannot be seeked back into.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { ErrInvalidOption, optionKeys, refuseUnknownOptions } from '../core/errors.js';
import type { Image, ImageIndex } from '../image/image.js';
import { canonicalJSON } from '../image/json.js';
import { isManifestType, OCI_INDEX } from '../core/media-types.js';
import { trackTemporary, untrackTemporary } from '../core/temporaries.js';
import type { Blob, Descriptor, Destination, ManifestBlob } from '../image/types.js';
import { writeImage, type WriteOptions, type WriteResult, WRITE_OPTION_KEYS } from '../image/write.js';
import { copyBlob } from '../layout/copy.js';
import { tempName } from '../layout/files.js';
import { OCI_LAYOUT_VERSION } from '../layout/layout.js';
import { indexEntries } from '../image/names.js';
import { referrerEntry } from '../image/referrer.js';
import { BLOCK, padding, tarHeader } from './tar-header.js';

export interface ArchiveOptions {
  /** mtime of every entry (default 0: the archive's bytes depend on the image alone). */
  mtime?: number;
}

const ARCHIVE_KEYS = optionKeys<ArchiveOptions>({ mtime: true });

function blobName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

export class ArchiveWriter implements Destination {
  /** One tar stream: blobs go in one after another. */
  readonly concurrency = 1;
  /** Layers after the current one are compressed ahead into spool files, then appended in order. */
  readonly spoolAhead = true;
  readonly path: string;
  readonly #tmp: string;
  readonly #mtime: number;
  #fh: FileHandle | undefined;
  #opening: Promise<FileHandle> | undefined;
  #offset = 0;
  readonly #blobs = new Map<string, number>();
  readonly #referrers: Descriptor[] = [];
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, options: ArchiveOptions = {}) {
    if (typeof path !== 'string' || path === '') throw new ErrInvalidOption('path', 'a file path', path);
    refuseUnknownOptions(options, ARCHIVE_KEYS, 'new ArchiveWriter()');
    const mtime = options.mtime ?? 0;
    if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0o77777777777) throw new ErrInvalidOption('mtime', 'whole seconds from 0 to 8589934591', mtime);
    this.path = path;
    this.#tmp = tempName(path);
    this.#mtime = mtime;
  }

  async #file(): Promise<FileHandle> {
    if (this.#closed) throw new Error('archive already committed or aborted');
    this.#opening ??= (async () => {
      const fh = await open(this.#tmp, 'wx', 0o644);
      // Recorded for an interrupted process, which ends before abort() can remove it.
      trackTemporary(this.#tmp);
      this.#fh = fh;
      await this.#append(fh, Buffer.concat([tarHeader('blobs/', 0, '5', this.#mtime), tarHeader('blobs/sha256/', 0, '5', this.#mtime)]));
      return fh;
    })();
    return this.#opening;
  }

  async #append(fh: FileHandle, bytes: Buffer): Promise<void> {
    for (let off = 0; off < bytes.length; ) {
      const { bytesWritten } = await fh.write(bytes, off, bytes.length - off, this.#offset + off);
      off += bytesWritten;
    }
    this.#offset += bytes.length;
  }

  async has(d: Descriptor): Promise<boolean> {
    return this.#blobs.get(d.digest) === d.size;
  }

  // One tar stream: callers that ignore `concurrency` are queued rather than interleaved.
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  writeBlob(blob: Blob, signal?: AbortSignal): Promise<Descriptor> {
    return this.#serial(() => this.#writeBlob(blob, signal));
  }

  async #writeBlob(blob: Blob, signal?: AbortSignal): Promise<Descriptor> {
    const fh = await this.#file();
    const headerAt = this.#offset;
    await this.#append(fh, Buffer.alloc(BLOCK));
    let d: Descriptor;
    try {
      d = await copyBlob(blob, fh, this.#offset, signal);
    } catch (err) {
      await this.#cut(fh, headerAt);
      throw err;
    }
    if (this.#blobs.has(d.digest)) {
      await this.#cut(fh, headerAt);
      return d;
    }
    this.#offset += d.size;
    await this.#append(fh, padding(d.size));
    const header = tarHeader(blobName(d.digest), d.size, '0', this.#mtime);
    const { bytesWritten } = await fh.write(header, 0, BLOCK, headerAt);
    if (bytesWritten !== BLOCK) throw new Error('short write of a tar header');
    this.#blobs.set(d.digest, d.size);
    return d;
  }

  async #cut(fh: FileHandle, at: number): Promise<void> {
    await fh.truncate(at);
    this.#offset = at;
  }

  async #entry(name: string, bytes: Buffer): Promise<void> {
    const fh = await this.#file();
    await this.#append(fh, Buffer.concat([tarHeader(name, bytes.length, '0', this.#mtime), bytes, padding(bytes.length)]));
  }

  writeManifest(m: ManifestBlob): Promise<void> {
    return this.#serial(() => this.#writeManifest(m));
  }

  async #writeManifest(m: ManifestBlob): Promise<void> {
    if (this.#blobs.has(m.descriptor.digest)) return;
    await this.#entry(blobName(m.descriptor.digest), m.bytes);
    this.#blobs.set(m.descriptor.digest, m.bytes.length);
  }

  /** Listed in index.json beside the image, as in a layout (layout.ts addReferrer says why). */
  async addReferrer(m: ManifestBlob): Promise<void> {
    if (!this.#referrers.some((r) => r.digest === m.descriptor.digest)) this.#referrers.push(referrerEntry(m));
  }

  commit(top: ManifestBlob, names: readonly string[]): Promise<void> {
    return this.#serial(() => this.#commit(top, names));
  }

  async #commit(top: ManifestBlob, names: readonly string[]): Promise<void> {
    const fh = await this.#file();
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...indexEntries(top.descriptor, names), ...this.#referrers] };
    await this.#entry('index.json', canonicalJSON(index));
    if (isManifestType(top.descriptor.mediaType)) {
      const m = JSON.parse(top.bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
      // Fully qualified, not docker save's familiar `app:1`: docker load reads both, but podman load
      // takes an unqualified name as localhost/app:1.
      const repoTags = names.filter((n) => !n.includes('@'));
      const docker = [{ Config: blobName(m.config.digest), RepoTags: repoTags, Layers: m.layers.map((l) => blobName(l.digest)) }];
      // docker-save's own manifest.json is not canonical JSON: keep its field order, as Docker reads it.
      await this.#entry('manifest.json', Buffer.from(JSON.stringify(docker)));
    }
    await this.#entry('oci-layout', canonicalJSON({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
    await this.#append(fh, Buffer.alloc(2 * BLOCK));
    await fh.truncate(this.#offset);
    await fh.sync();
    await fh.close();
    this.#closed = true;
    this.#fh = undefined;
    await rename(this.#tmp, this.path);
    untrackTemporary(this.#tmp);
  }

  async abort(): Promise<void> {
    this.#closed = true;
    const fh = this.#fh ?? (this.#opening ? await this.#opening.catch(() => undefined) : undefined);
    this.#fh = undefined;
    if (fh) await fh.close().catch(() => undefined);
    if (this.#opening) await unlink(this.#tmp).catch(() => undefined);
    untrackTemporary(this.#tmp);
  }
}

/**
 * Writes `image` as an archive to `target`: a file path (built under a temp name, renamed over the
 * path at the end: an existing file is replaced only then), or a writable stream such as stdout
 * (the archive is staged in a temp file under os.tmpdir() first, then copied to the stream).
 */
export async function writeArchive(image: Image | ImageIndex, target: string | Writable, options: WriteOptions & ArchiveOptions = {}): Promise<WriteResult> {
  refuseUnknownOptions(options, new Set([...WRITE_OPTION_KEYS, ...ARCHIVE_KEYS]), 'writeArchive()');
  const { mtime, ...rest } = options;
  const archiveOptions = mtime === undefined ? {} : { mtime };
  if (typeof target === 'string') {
    const st = await stat(target).catch(() => undefined);
    if (st === undefined || st.isFile()) return writeImage(image, new ArchiveWriter(target, archiveOptions), rest);
    if (st.isDirectory()) throw new ErrInvalidOption('target', 'a file path, not a directory', target);
  } else if (target === null || typeof target !== 'object' || typeof (target as Writable).write !== 'function') {
    throw new ErrInvalidOption('target', 'a file path or a writable stream', target);
  }
  const staged = join(tmpdir(), `fastlayer-archive-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.tar`);
  // Recorded before it exists (the archive's rename creates it): an interrupt that ends the process
  // during the copy would otherwise leave the whole archive under the temp directory.
  trackTemporary(staged);
  try {
    const result = await writeImage(image, new ArchiveWriter(staged, archiveOptions), rest);
    // A special file (a FIFO, a device) is ours to end: a pipeline ends it and waits for its finish.
    if (typeof target === 'string') await pipeline(createReadStream(staged), createWriteStream(target, { flags: 'w' }));
    else await copyInto(staged, target, rest.signal);
    return result;
  } finally {
    await unlink(staged).catch(() => undefined);
    untrackTemporary(staged);
  }
}

/**
 * Copies the staged archive into `out` without ending it, each piece once `out` has taken the one
 * before (its write callback). When this resolves, no byte of the archive waits in `out`'s buffer:
 * a caller may exit at once. (A pipeline with `end: false` resolves when the file is read, with up to
 * a highWaterMark of it still queued in `out`; a CLI that then exited cut its standard output short.)
 */
async function copyInto(path: string, out: Writable, signal: AbortSignal | undefined): Promise<void> {
  let failure: { error: unknown } | undefined;
  const onError = (error: unknown): void => {
    failure ??= { error };
  };
  out.on('error', onError);
  try {
    for await (const piece of createReadStream(path, { highWaterMark: COPY_PIECE, ...(signal ? { signal } : {}) }) as AsyncIterable<Buffer>) {
      if (failure) throw failure.error;
      await new Promise<void>((resolve, reject) => {
        out.write(piece, (err) => {
          if (!err) return resolve();
          onError(err);
          reject(err);
        });
      });
    }
    if (failure) throw failure.error;
  } finally {
    // A failed write emits 'error' after its callback: the listener stays to take it, else that
    // event would be unhandled and end the process with a stack trace instead of the coded error.
    if (!failure) out.off('error', onError);
  }
}

/** Pieces of the staged archive written to a stream: 1 MiB, as large as a pipe's reader takes well. */
const COPY_PIECE = 1024 * 1024;
