// Part of a blob, by an HTTP Range request: what `fastlayer inspect` reads of an eStargz layer (its
// footer, then its TOC) without downloading the rest. A registry that answers 206 sends only the
// range; one that ignores Range (200) sends the blob from its start: that body is read as it comes,
// the bytes before the range dropped as they arrive (downloaded still, but never held), and cancelled
// once the range is in. Bytes read this way are not verified against
// the blob's digest: the caller checks them (the TOC against the digest its annotation names).
import { anySignal, pullScope, type Repository } from './client.js';
import { readBounded, readSlice } from './body.js';
import { ErrRegistryProtocol } from './errors.js';

/** `length` bytes of blob `digest` from `offset` (the range must lie inside the blob's `size`). */
export async function readBlobRange(repo: Repository, digest: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
  const what = `bytes ${offset} to ${offset + length} of blob ${digest} from ${repo.repository}`;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) throw new ErrRegistryProtocol(`${what}: not a range`);
  const { transport, repository } = repo;
  const url = transport.url(`${repository}/blobs/${digest}`);
  const headers = { range: `bytes=${offset}-${offset + length - 1}` };
  const res = await transport.request({ method: 'GET', url, headers, scopes: [pullScope(repository)], signal: anySignal(signal) }, [200, 206], `getting ${what}`);
  if (res.status === 200) {
    const { bytes, delivered } = await readSlice(res, offset, length, `getting ${what}`);
    if (bytes.length !== length) throw new ErrRegistryProtocol(`${what}: the blob ended after ${delivered} bytes`, { status: 200 });
    return bytes;
  }
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  if (!range || Number(range[1]) !== offset || Number(range[2]) !== offset + length - 1) {
    await res.body?.cancel().catch(() => {});
    throw new ErrRegistryProtocol(`${what}: the registry sent Content-Range ${JSON.stringify(res.headers.get('content-range'))}`, { status: 206 });
  }
  const bytes = await readBounded(res, length, `getting ${what}`);
  if (bytes.length !== length) throw new ErrRegistryProtocol(`${what}: the registry sent ${bytes.length} bytes`, { status: 206 });
  return bytes;
}
