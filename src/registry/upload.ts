// Blob uploads over the distribution API. Streaming: POST opens a session, one PATCH carries the bytes
// as they are produced (no length), PUT `digest=` closes it once the digest is known. Chunked: PATCHes
// with `Content-Range: start-end` and a length, each one held in memory so it can be sent again, with
// the offset recovered from the upload URL after a 416. Known blobs are HEAD-checked, mounted from
// another repository when their origin is known, and otherwise uploaded with a replayable body. A
// registry's copy counts only with the descriptor's size (its HEAD's Content-Length).
import { verifyBytes, type Mismatch } from '../core/verify.js';
import type { Readable } from 'node:stream';
import type { KnownBlob } from '../image/types.js';
import { registryDigestMismatch, ErrRegistryProtocol, ErrRegistryStreamFailed, redactUrl } from './errors.js';
import { checkNextUrl } from './origin.js';
import { drain, errorFor, type Transport } from './transport.js';

const OCTET = 'application/octet-stream';
/** Default PATCH size in chunked mode. */
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
/** Chunk sizes a registry may impose through OCI-Chunk-Min-Length are bounded: the chunk lives in memory. */
const MAX_CHUNK_SIZE = 256 * 1024 * 1024;

export interface UploadContext {
  readonly transport: Transport;
  /** Registry as references name it, to compare with a blob's origin. */
  readonly registry: string;
  readonly repository: string;
  /** Scopes every request of this push needs (push+pull on the repository). */
  readonly scopes: readonly string[];
  /** Chunked mode with PATCHes of this many bytes; undefined: one streaming PATCH. */
  readonly chunkSize?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

const MOUNT_REFUSED = new Set(['ERR_REGISTRY_UNAUTHORIZED', 'ERR_REGISTRY_DENIED', 'ERR_REGISTRY_NOT_FOUND']);

export type UploadResult = 'exists' | 'mounted' | 'uploaded';

/** Where a session stands: the latest Location and the registry's minimum chunk size. */
interface Session {
  url: URL;
  minChunk: number;
}

/**
 * A HEAD of a blob: undefined when the registry lacks it (404), else the length its Content-Length
 * announces (undefined when it sent none, or none that is a byte count).
 */
export async function headBlob(ctx: UploadContext, digest: string, scopes = ctx.scopes): Promise<{ length: number | undefined } | undefined> {
  const url = ctx.transport.url(`${ctx.repository}/blobs/${digest}`);
  const spec = { method: 'HEAD' as const, url, scopes, signal: ctx.signal };
  const res = await ctx.transport.send(spec);
  await drain(res);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw await errorFor(res.status, { ...spec, what: `checking blob ${digest} in ${ctx.repository}` }, res);
  const header = res.headers.get('content-length');
  const length = header !== null && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined;
  return { length: length !== undefined && Number.isSafeInteger(length) ? length : undefined };
}

/**
 * Whether the registry's copy (a HEAD's answer, undefined for none) is the blob `descriptor` names:
 * its digest with the descriptor's size. A copy of another length is not (a layer cache entry may
 * hold a wrong size, and the manifest would list it): the blob then counts as absent, and its bytes,
 * sent again, are checked against the descriptor. A HEAD without a length (allowed by HTTP, dropped
 * by some proxies) cannot show the size: the digest is taken as proof, as it always was, rather
 * than uploading every blob again to such a registry (docs/REGISTRY.md).
 */
function holdsCopy(head: { length: number | undefined } | undefined, descriptor: { size: number }): boolean {
  return head !== undefined && (head.length === undefined || head.length === descriptor.size);
}

/** Whether the registry holds the blob `descriptor` names (holdsCopy: digest and size). */
export async function blobExists(ctx: UploadContext, descriptor: { digest: string; size: number }, scopes = ctx.scopes): Promise<boolean> {
  return holdsCopy(await headBlob(ctx, descriptor.digest, scopes), descriptor);
}

/**
 * The Location of a response, resolved against the request URL (it may be relative, scheme-relative,
 * leave /v2, carry a query). It may name another origin (an upload service); the transport then sends no
 * credentials there. Other schemes, user-info and a step down from https to http (unless `insecure`) are
 * refused, as for redirects.
 */
export function location(res: Response, request: URL, insecure = false): URL {
  const value = res.headers.get('location');
  if (value === null || value === '') throw new ErrRegistryProtocol(`${redactUrl(request)}: HTTP ${res.status} without a Location header`, { status: res.status });
  let url: URL;
  try {
    url = new URL(value, request);
  } catch {
    throw new ErrRegistryProtocol(`${redactUrl(request)}: Location header is not a URL`, { status: res.status });
  }
  url.hash = '';
  return checkNextUrl(request, url, insecure, `${redactUrl(request)}: upload Location`);
}

/** `url` with `digest=` appended, keeping the registry's own query exactly as it sent it. */
export function withDigest(url: URL, digest: string): URL {
  // An empty query ("...?") has search "" but keeps its "?" in href.
  const base = url.href.endsWith('?') ? url.href.slice(0, -1) : url.href;
  const sep = url.search === '' ? '?' : '&';
  return new URL(`${base}${sep}digest=${encodeURIComponent(digest)}`);
}

async function open(ctx: UploadContext, query = '', scopes = ctx.scopes): Promise<{ res: Response; session?: Session }> {
  const url = ctx.transport.url(`${ctx.repository}/blobs/uploads/${query}`);
  const spec = { method: 'POST' as const, url, scopes, signal: ctx.signal, headers: { 'content-length': '0' } };
  const res = await ctx.transport.request(spec, [201, 202], `opening an upload in ${ctx.repository}`);
  await drain(res);
  if (res.status === 201) {
    // 201 Created means the blob is already there: the answer to a mount, or to a POST carrying the
    // whole blob with `?digest=`. To a plain POST (no bytes sent yet) it can mean nothing the spec allows.
    if (!query.includes('mount=')) {
      throw new ErrRegistryProtocol(`opening an upload in ${ctx.repository} on ${ctx.registry}: the registry answered 201 Created with no blob sent (the distribution spec requires 202 Accepted and a Location)`, { status: 201 });
    }
    return { res };
  }
  return { res, session: { url: location(res, url, ctx.transport.insecure), minChunk: minChunk(res) } };
}

/** A new upload session (a plain POST: `open` refuses any answer but 202 with a Location). */
async function openSession(ctx: UploadContext): Promise<Session> {
  const { session } = await open(ctx);
  if (!session) throw new ErrRegistryProtocol(`opening an upload in ${ctx.repository} on ${ctx.registry}: no upload session`);
  return session;
}

function minChunk(res: Response): number {
  const v = Number(res.headers.get('oci-chunk-min-length'));
  return Number.isSafeInteger(v) && v > 0 ? v : 0;
}

/** Cancels an upload session, best effort and bounded: the push already failed for another reason. */
export async function cancel(ctx: UploadContext, session: Session | undefined): Promise<void> {
  if (!session) return;
  try {
    const res = await ctx.transport.send({ method: 'DELETE', url: session.url, scopes: ctx.scopes, signal: AbortSignal.timeout(5000) });
    await drain(res);
  } catch {
    // Registries expire abandoned sessions themselves.
  }
}

async function commit(ctx: UploadContext, session: Session, digest: string, body?: { replay: () => AsyncIterable<Uint8Array>; length: number }): Promise<void> {
  const url = withDigest(session.url, digest);
  // With a length, a registry (and undici itself) can tell a short body from a complete one.
  const headers: Record<string, string> = { 'content-type': OCTET, 'content-length': String(body ? body.length : 0) };
  const spec = { method: 'PUT' as const, url, scopes: ctx.scopes, signal: ctx.signal, headers, ...(body ? { body } : {}) };
  const res = await ctx.transport.request(spec, [201, 204], `completing the upload of ${digest} to ${ctx.repository}`);
  const stored = res.headers.get('docker-content-digest');
  await drain(res);
  if (stored !== null && stored !== digest) {
    throw registryDigestMismatch(`the registry stored ${ctx.repository} blob as ${stored}, expected ${digest}`, { status: res.status });
  }
}

const CHANGED = ' (did the source change since its digest was computed?)';

/**
 * Counts bytes into `onBytes` and remembers a failure of the source itself (its error wins over the HTTP
 * one). With `expected` (a known blob), the bytes are checked against its size and SHA-256 while they
 * pass, and the last chunk is held back until the digest matched: a source whose bytes changed since
 * its digest was computed (a tree edited between a layer cache's two passes) fails before the registry
 * has the whole body, so it can never complete the upload with them.
 */
class Counted {
  failure: { error: unknown } | undefined;
  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly onBytes: (n: number) => void,
    private readonly expected?: { size: number; digest: string },
  ) {}
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      if (this.expected) {
        yield* verifyBytes(this.source, this.expected, { mismatch: uploadMismatch, onBytes: this.onBytes });
        return;
      }
      for await (const chunk of this.source) {
        this.onBytes(chunk.byteLength);
        yield chunk;
      }
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  }
}

/** A known blob whose source gave other bytes than its descriptor: the registry's code, and the likely cause. */
function uploadMismatch(m: Mismatch): Error {
  const e = m.expected;
  if (m.kind === 'longer') return registryDigestMismatch(`blob ${e.digest} has more bytes than its descriptor's ${e.size}${CHANGED}`);
  if (m.seen !== e.size) return registryDigestMismatch(`blob ${e.digest} has ${m.seen} bytes, its descriptor says ${e.size}${CHANGED}`);
  return registryDigestMismatch(`blob ${e.digest}: its source gave bytes with digest ${m.digest}${CHANGED}`);
}

/**
 * Uploads a single-use stream (a layer being produced). `finished` resolves with the digest once the
 * stream has ended (the Layer's `done`). The source is destroyed when the upload fails.
 */
export async function uploadStream(
  ctx: UploadContext,
  source: Readable,
  finished: () => Promise<string>,
  onBytes: (n: number) => void = () => {},
): Promise<void> {
  let session: Session | undefined;
  const counted = new Counted(source, onBytes);
  try {
    session = await openSession(ctx);
    if (ctx.chunkSize !== undefined) {
      session = await sendChunks(ctx, session, counted);
    } else {
      const spec = { method: 'PATCH' as const, url: session.url, scopes: ctx.scopes, signal: ctx.signal, headers: { 'content-type': OCTET }, body: { once: counted } };
      let res: Response;
      try {
        res = await ctx.transport.send(spec);
      } catch (err) {
        if (counted.failure) throw counted.failure.error;
        throw err;
      }
      if (counted.failure) {
        await drain(res);
        throw counted.failure.error;
      }
      if (res.status !== 202 && res.status !== 204) {
        const error = await errorFor(res.status, { ...spec, what: `streaming a layer to ${ctx.repository}` }, res);
        throw new ErrRegistryStreamFailed(`${error.message} (the layer stream is single-use: build the layer again to retry)`, {
          status: error.status,
          errors: [...error.errors],
          cause: error,
        });
      }
      await drain(res);
      session.url = location(res, session.url, ctx.transport.insecure);
    }
    const digest = await finished();
    await commit(ctx, session, digest);
  } catch (err) {
    source.destroy();
    await cancel(ctx, session);
    throw err;
  }
}

/** Reads `source` into chunks of the session's size and PATCHes each with its range; returns the final session. */
async function sendChunks(ctx: UploadContext, session: Session, source: AsyncIterable<Uint8Array>): Promise<Session> {
  const size = Math.min(Math.max(ctx.chunkSize ?? DEFAULT_CHUNK_SIZE, session.minChunk, 1), MAX_CHUNK_SIZE);
  let offset = 0;
  let buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  const flush = async (): Promise<void> => {
    if (filled === 0) return;
    offset = await patchChunk(ctx, session, buffer.subarray(0, filled), offset);
    buffer = Buffer.allocUnsafe(size);
    filled = 0;
  };
  for await (const chunk of source) {
    let at = 0;
    while (at < chunk.byteLength) {
      const n = Math.min(size - filled, chunk.byteLength - at);
      buffer.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === size) await flush();
    }
  }
  await flush();
  return session;
}

/** Sends bytes [start, start+data.length) and resolves with the next offset; recovers from a 416 once per chunk. */
async function patchChunk(ctx: UploadContext, session: Session, data: Buffer, start: number): Promise<number> {
  let from = start;
  for (let recoveries = 0; ; recoveries++) {
    const part = data.subarray(from - start);
    const end = from + part.length - 1;
    const spec = {
      method: 'PATCH' as const,
      url: session.url,
      scopes: ctx.scopes,
      signal: ctx.signal,
      headers: { 'content-type': OCTET, 'content-range': `${from}-${end}`, 'content-length': String(part.length) },
      body: part,
    };
    const res = await ctx.transport.send(spec);
    if (res.status === 202 || res.status === 204) {
      await drain(res);
      session.url = location(res, session.url, ctx.transport.insecure);
      return end + 1;
    }
    if (res.status !== 416 || recoveries >= 2) {
      throw await errorFor(res.status, { ...spec, what: `uploading bytes ${from}-${end} to ${ctx.repository}` }, res);
    }
    // A 416 may carry the session's current Location (distribution's state lives in its query).
    if (res.headers.get('location') !== null) session.url = location(res, session.url, ctx.transport.insecure);
    await drain(res);
    const next = await uploadedOffset(ctx, session);
    if (next < start || next > start + data.length) {
      throw new ErrRegistryProtocol(`after a 416 the registry holds ${next} bytes of the upload, outside the chunk ${start}-${start + data.length - 1} still in memory`, { status: 416 });
    }
    if (next === start + data.length) return next;
    from = next;
  }
}

/** GET of the upload URL: `Range: 0-N` says N+1 bytes arrived (no Range: none). */
async function uploadedOffset(ctx: UploadContext, session: Session): Promise<number> {
  const spec = { method: 'GET' as const, url: session.url, scopes: ctx.scopes, signal: ctx.signal };
  const res = await ctx.transport.request(spec, [204, 200], `reading the upload status in ${ctx.repository}`);
  await drain(res);
  if (res.headers.get('location') !== null) session.url = location(res, session.url, ctx.transport.insecure);
  const range = res.headers.get('range');
  if (range === null) return 0;
  const m = /^(?:bytes=)?0-(\d+)$/.exec(range.trim());
  if (!m) throw new ErrRegistryProtocol(`upload status has an invalid Range header`, { status: res.status });
  return Number(m[1]) + 1;
}

/**
 * Uploads a blob known by digest: skipped when present, mounted when its origin is another repository
 * of this registry, else sent with a replayable body (retried, in a new session if needed).
 */
export async function uploadKnown(
  ctx: UploadContext,
  blob: KnownBlob,
  onBytes: (n: number) => void = () => {},
  /** The caller HEAD-checked it just before. */
  checked = false,
): Promise<UploadResult> {
  const { digest, size } = blob.descriptor;
  // Skipped when the registry holds it (holdsCopy); a copy of another length is uploaded over, the
  // bytes checked against the descriptor while they are sent: a wrong descriptor fails there, a
  // wrong HEAD (a proxy's) costs one upload.
  if (!checked && holdsCopy(await headBlob(ctx, digest), blob.descriptor)) return 'exists';
  let session: Session | undefined;
  const origin = blob.origin;
  if (origin && origin.registry === ctx.registry && origin.repository !== ctx.repository) {
    const scopes = [...ctx.scopes, `repository:${origin.repository}:pull`];
    const query = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(origin.repository)}`;
    const opened = await open(ctx, query, scopes).catch((err: unknown) => {
      // No pull right on the source repository (a token without its scope, a 403, a repository gone):
      // the mount is only a shortcut, so the blob is uploaded as if it had not been tried.
      if (MOUNT_REFUSED.has((err as { code?: string }).code ?? '')) return undefined;
      throw err;
    });
    if (opened && !opened.session) {
      const mounted = opened.res.headers.get('docker-content-digest');
      if (mounted !== null && mounted !== digest) throw registryDigestMismatch(`mount of ${digest} created ${mounted}`, { status: 201 });
      // A 201 carries no length: one HEAD shows the size the manifest will list. Another length (or
      // the blob not found there after all): the bytes are uploaded and checked as they are sent.
      if (holdsCopy(await headBlob(ctx, digest), blob.descriptor)) return 'mounted';
    }
    // 202: the registry opened an upload instead; it is used for the upload (none: a new session).
    session = opened?.session;
  }
  for (let attempt = 0; ; attempt++) {
    session ??= await openSession(ctx);
    let sent = 0;
    // The attempt's reader of the blob: a failure of the source itself (bytes that are not the
    // descriptor's) is the error, not the HTTP one it caused, and is never retried.
    let reading: Counted | undefined;
    const count = (n: number): void => {
      sent += n;
      onBytes(n);
    };
    try {
      if (ctx.chunkSize !== undefined) {
        session = await sendChunks(ctx, session, (reading = new Counted(blob.open(), count, blob.descriptor)));
        await commit(ctx, session, digest);
      } else {
        // Each attempt rereads the blob from its start; progress is told to forget the failed attempt.
        const replay = (): AsyncIterable<Uint8Array> => {
          if (sent > 0) onBytes(-sent);
          sent = 0;
          return (reading = new Counted(blob.open(), count, blob.descriptor));
        };
        await commit(ctx, session, digest, { replay, length: size });
      }
      return 'uploaded';
    } catch (err) {
      await cancel(ctx, session);
      session = undefined;
      if (reading?.failure) throw reading.failure.error;
      const code = (err as { code?: string }).code;
      const retriable = code === 'ERR_REGISTRY_UNAVAILABLE' || code === 'ERR_REGISTRY_TIMEOUT' || (err as { status?: number }).status === 404;
      if (!retriable || attempt >= 1 || ctx.signal?.aborted) throw err;
      if (sent > 0) onBytes(-sent);
      sent = 0;
    }
  }
}
