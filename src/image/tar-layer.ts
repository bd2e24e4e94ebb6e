// Tar files made by other tools as layers (`--layer FILE.tar`, crane's `append -f`). The format is
// told by magic bytes, not by the name: a plain tar becomes a Layer read from the file (compressed
// like a directory layer); a gzip or zstd tar whose compression is the one asked for is reused byte
// for byte (a known blob: digest = the file's sha256, diffID = the sha256 of what it decompresses
// to, both from one streaming pass); any other compressed tar is decompressed into a Layer. Every
// tar stream goes through TarCheck (src/tar/check.ts) before it can be committed anywhere.
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable, Writable, pipeline, type Transform } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import type { Compression } from '../engine/engine.js';
import { Layer } from '../layer/layer.js';
import type { LayerOptions } from '../layer/options.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_ZSTD } from '../core/media-types.js';
import { TarCheck } from '../tar/check.js';
import { ErrTarInvalid, ErrTarUnsafeEntry } from '../tar/errors.js';
import { ErrDecompressUnavailable, ErrLayerFile } from './errors.js';
import type { Blob } from './types.js';

const READ = 1024 * 1024;

/** What a file holds, by its first bytes: gzip (1f 8b), zstd (28 b5 2f fd), else taken as a plain tar. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

type ZstdZlib = { createZstdDecompress?: () => Transform; zstdCompressSync?: (b: Uint8Array) => Buffer };
const zstdZlib = zlib as unknown as ZstdZlib;

let zstdProbe: Promise<string | undefined> | undefined;

/**
 * Why zstd cannot be decompressed here, or undefined. The addon only compresses; node:zlib decodes
 * zstd from Node 22.15 / 23.8. A layer is many zstd frames, and some Node 22 decoders stop after the
 * first one: probed once with two tiny frames, so such a runtime refuses rather than cuts a layer.
 */
export function zstdUnavailableReason(): Promise<string | undefined> {
  zstdProbe ??= (async () => {
    const { createZstdDecompress, zstdCompressSync } = zstdZlib;
    if (typeof createZstdDecompress !== 'function' || typeof zstdCompressSync !== 'function') {
      return `node:zlib has no zstd decoder in Node ${process.version} (it needs Node >= 22.15 or >= 23.8) and the addon only compresses`;
    }
    const two = Buffer.concat([zstdCompressSync(Buffer.from('a')), zstdCompressSync(Buffer.from('bc'))]);
    const out: Buffer[] = [];
    try {
      await pipelineAsync(Readable.from([two]), createZstdDecompress(), new Writable({ write: (c: Buffer, _e, cb) => void (out.push(c), cb()) }));
    } catch (err) {
      return `node:zlib's zstd decoder in Node ${process.version} fails on two frames (${(err as Error).message})`;
    }
    const text = Buffer.concat(out).toString();
    return text === 'abc' ? undefined : `node:zlib's zstd decoder in Node ${process.version} stops after the first zstd frame`;
  })();
  return zstdProbe;
}

function decompressor(kind: 'gzip' | 'zstd'): Transform {
  return kind === 'gzip' ? zlib.createGunzip() : zstdZlib.createZstdDecompress!();
}

/** The decoder's own failure (truncated or corrupt data) as ErrLayerFile; coded errors pass unchanged. */
function decodeError(path: string, kind: string, dec: Transform, err: unknown): unknown {
  // The checker's and our own errors reach the decoder too (pipeline destroys it with them).
  // So do a read error of the file and an abort: those are no fault of the compressed data.
  if (err instanceof ErrTarInvalid || err instanceof ErrTarUnsafeEntry || err instanceof ErrLayerFile) return err;
  if ((err as NodeJS.ErrnoException).syscall !== undefined || (err as Error).name === 'AbortError') return err;
  if ((dec as { errored?: unknown }).errored === err) return new ErrLayerFile(path, `its ${kind} data is truncated or corrupt (${(err as Error).message})`, err);
  return err;
}

/** node:zlib stops at bytes that do not start another member or frame, silently: that is trailing data. */
function checkConsumed(path: string, kind: string, dec: Transform, size: number): void {
  const used = (dec as unknown as { bytesWritten: number }).bytesWritten;
  if (used !== size) throw new ErrLayerFile(path, `${size - used} bytes after the end of its ${kind} data (trailing data is no layer)`);
}

async function* readWhole(fh: FileHandle, size: number, path: string, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  for (let at = 0; at < size; ) {
    signal?.throwIfAborted();
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(Math.min(READ, size - at)), 0, Math.min(READ, size - at), at);
    if (bytesRead === 0) throw new ErrLayerFile(path, 'it shrank while it was read');
    at += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** The decompressed bytes of [0, size) of `path`, checked as a tar; the decoder's faults coded. */
async function* decompressedTar(path: string, size: number, kind: 'gzip' | 'zstd'): AsyncGenerator<Uint8Array> {
  // No signal here: the Layer reading this stops it (its own signal) by closing the generator.
  const file = createReadStream(path, { start: 0, end: size - 1 });
  const dec = decompressor(kind);
  const out = pipeline(file, dec, () => undefined) as Transform;
  const check = new TarCheck(path);
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) {
      check.write(chunk);
      yield chunk;
    }
  } catch (err) {
    throw decodeError(path, kind, dec, err);
  } finally {
    file.destroy();
    dec.destroy();
  }
  check.end();
  checkConsumed(path, kind, dec, size);
}

/** One pass over a compressed tar: its digest and size, and the diffID of what it decompresses to. */
async function scanCompressed(path: string, size: number, kind: 'gzip' | 'zstd', signal: AbortSignal | undefined): Promise<{ digest: string; diffID: string }> {
  const fileHash = createHash('sha256');
  const diffHash = createHash('sha256');
  let read = 0;
  // The compressed bytes are hashed as they go into the decoder: the file is read once.
  async function* tapped(): AsyncGenerator<Buffer> {
    for await (const c of createReadStream(path, { start: 0, end: size - 1, ...(signal ? { signal } : {}) }) as AsyncIterable<Buffer>) {
      fileHash.update(c);
      read += c.length;
      yield c;
    }
  }
  const dec = decompressor(kind);
  const check = new TarCheck(path);
  try {
    await pipelineAsync(tapped, dec, new Writable({
      write(chunk: Buffer, _e, cb) {
        try {
          check.write(chunk);
          diffHash.update(chunk);
          cb();
        } catch (err) {
          cb(err as Error);
        }
      },
    }));
  } catch (err) {
    throw decodeError(path, kind, dec, err);
  }
  check.end();
  checkConsumed(path, kind, dec, size);
  if (read !== size) throw new ErrLayerFile(path, `changed size while it was read (${size} bytes, then ${read})`);
  return { digest: `sha256:${fileHash.digest('hex')}`, diffID: `sha256:${diffHash.digest('hex')}` };
}

/**
 * A layer blob of the tar file at `path`, checked. `options` are the image's layer options: their
 * compression (default gzip) decides whether a compressed file is reused as it is. Throws
 * ErrLayerFile, ErrTarInvalid, ErrTarUnsafeEntry or ErrDecompressUnavailable before any output is
 * written for a plain or reused file; a decompressed one is checked as it streams into its Layer
 * (writeImage then aborts the destination: nothing is committed).
 */
export async function tarFileLayer(path: string, options: LayerOptions): Promise<Blob> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: a FIFO given by mistake must not hang the open.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ErrLayerFile(path, `cannot open it (${(err as Error).message})`, err);
  }
  let kind: Compression;
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ErrLayerFile(path, 'not a regular file (a tar layer is read twice: once checked, once written)');
    size = st.size;
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    kind = sniffCompression(head.subarray(0, bytesRead));
    if (kind === 'none') {
      const check = new TarCheck(path);
      for await (const chunk of readWhole(fh, size, path, options.signal)) check.write(chunk);
      check.end();
    }
  } finally {
    await fh.close();
  }
  const wanted = options.compression ?? 'gzip';
  // The engine reads the file itself; `end` pins the bytes to those just checked (a file that
  // grew since is not read past them).
  if (kind === 'none') return { kind: 'streaming', layer: Layer.fromFile(path, { ...options, end: size - 1 }) };
  if (kind === 'zstd') {
    const why = await zstdUnavailableReason();
    if (why !== undefined) throw new ErrDecompressUnavailable(path, why);
  }
  if (kind !== wanted) return { kind: 'streaming', layer: new Layer(decompressedTar(path, size, kind), options) };
  const { digest, diffID } = await scanCompressed(path, size, kind, options.signal);
  // Destinations check a known blob's bytes against this descriptor as they copy it: a file
  // changed since the scan fails the write (ErrDigestMismatch) instead of landing.
  return {
    kind: 'known',
    descriptor: { mediaType: kind === 'gzip' ? DOCKER_LAYER_GZIP : OCI_LAYER_ZSTD, digest, size },
    diffID,
    open: () => createReadStream(path, { start: 0, end: size - 1 }),
  };
}
