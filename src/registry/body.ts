// Reading response bodies with a bound enforced while reading, never after: a body's Content-Length may
// be absent or lie, and fetch decompresses gzip/deflate/br content-encodings, so only the bytes actually
// delivered are counted (a compression bomb stops at the cap too). Nothing here reads a body whole.
import { ErrRegistryProtocol, ErrRegistryUnavailable, describeCause } from './errors.js';

/** What an error body (a 4xx/5xx, a redirect) may hold that is read for its message. */
export const ERROR_BODY_CAP = 64 * 1024;

/**
 * Frees the connection of a response whose body is not wanted: up to ERROR_BODY_CAP bytes are read
 * (so a small body keeps the connection alive), anything longer or declared longer is cancelled.
 */
export async function drain(res: Response): Promise<void> {
  if (res.body === null) return;
  try {
    await readCapped(res, ERROR_BODY_CAP);
  } catch {
    // The connection is gone either way; the caller reports the status it already has.
  }
}

/**
 * At most `cap` bytes of the body, then the rest cancelled: for error messages, where a truncated body
 * still says something. Read failures propagate.
 */
export async function readCapped(res: Response, cap: number): Promise<Buffer> {
  if (res.body === null) return Buffer.alloc(0);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > cap) {
    await res.body.cancel().catch(() => {});
    return Buffer.alloc(0);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.byteLength, cap - total);
    chunks.push(Buffer.from(value.buffer, value.byteOffset, take));
    total += take;
    if (total >= cap) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return Buffer.concat(chunks, total);
}

/** Reads a body into memory, failing with ERR_REGISTRY_PROTOCOL as soon as it passes `cap` bytes. */
export async function readBounded(res: Response, cap: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > cap) {
    await res.body?.cancel().catch(() => {});
    throw new ErrRegistryProtocol(`${what}: body of ${declared} bytes exceeds the ${cap}-byte limit`, { status: res.status });
  }
  if (res.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const step = await readStep(reader, res, what);
    if (step.done) break;
    const value = step.value;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel().catch(() => {});
      throw new ErrRegistryProtocol(`${what}: body exceeds the ${cap}-byte limit`, { status: res.status });
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return Buffer.concat(chunks, total);
}

/**
 * The next chunk of a body. undici's own read failures are TypeErrors ("terminated"): they become
 * ERR_REGISTRY_UNAVAILABLE; an abort's reason passes unchanged.
 */
async function readStep(reader: ReadableStreamDefaultReader<Uint8Array>, res: Response, what: string): Promise<Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>["read"]>>> {
  try {
    return await reader.read();
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    throw new ErrRegistryUnavailable(`${what}: the body failed while read: ${describeCause(err)}`, { cause: err, status: res.status });
  }
}

/**
 * The bytes of a body from `offset`, `length` of them: those before are read and dropped as they come,
 * and the rest of the body is cancelled once the range is in, so no more than `length` bytes are held
 * and no more of the body is read than the range's end (a registry answering a Range request with the
 * whole blob). `delivered` counts the bytes read: when the body ends first, `bytes` is short and the
 * caller says what that means. A read failure is ERR_REGISTRY_UNAVAILABLE, as in readBounded.
 */
export async function readSlice(res: Response, offset: number, length: number, what: string): Promise<{ bytes: Buffer; delivered: number }> {
  if (res.body === null) return { bytes: Buffer.alloc(0), delivered: 0 };
  const end = offset + length;
  const chunks: Buffer[] = [];
  let kept = 0;
  let delivered = 0;
  const reader = res.body.getReader();
  while (delivered < end) {
    const step = await readStep(reader, res, what);
    if (step.done) return { bytes: Buffer.concat(chunks, kept), delivered };
    const value = step.value;
    const from = Math.max(offset - delivered, 0);
    const to = Math.min(end - delivered, value.byteLength);
    delivered += value.byteLength;
    if (from < to) {
      // A copy: a small range is not left holding its whole chunk.
      chunks.push(Buffer.from(value.subarray(from, to)));
      kept += to - from;
    }
  }
  await reader.cancel().catch(() => {});
  return { bytes: Buffer.concat(chunks, kept), delivered };
}
