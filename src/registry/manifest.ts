// Manifests and indexes: PUT by digest or tag with their own media type, GET/HEAD accepting every
// OCI and Docker manifest and index type, the bytes checked against the digest asked for, else
// against Docker-Content-Digest, else hashed to name them. Bodies are bounded in memory.
import type { Descriptor, ManifestBlob } from '../image/types.js';
import { ErrRegistry, registryDigestMismatch, ErrRegistryProtocol, ErrRegistryUnavailable, describeCause } from './errors.js';
import { drain, readBounded, type Transport } from './transport.js';
import { sha256 } from '../core/hash.js';
import { isDigest } from '../core/hash.js';
import { MANIFEST_MEDIA_TYPES, OCI_INDEX, OCI_MANIFEST } from '../core/media-types.js';

export { sha256 };

const ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

export { MANIFEST_CAP } from '../image/source.js';
import { MANIFEST_CAP } from '../image/source.js';



export interface ManifestTarget {
  readonly transport: Transport;
  readonly repository: string;
  readonly scopes: readonly string[];
  readonly signal?: AbortSignal | undefined;
}

/** PUTs `manifest` under `identifier` (a tag or its digest). */
export async function putManifest(target: ManifestTarget, manifest: ManifestBlob, identifier: string): Promise<void> {
  const { mediaType, digest } = manifest.descriptor;
  const url = target.transport.url(`${target.repository}/manifests/${identifier}`);
  const spec = { method: 'PUT' as const, url, scopes: target.scopes, signal: target.signal, headers: { 'content-type': mediaType }, body: manifest.bytes };
  const res = await target.transport.request(spec, [200, 201, 202, 204], `putting manifest ${identifier} in ${target.repository}`);
  const stored = res.headers.get('docker-content-digest');
  await drain(res);
  if (stored !== null && stored !== digest) {
    throw registryDigestMismatch(`the registry stored manifest ${identifier} as ${stored}, expected ${digest}`, { status: res.status });
  }
}

/** GETs a manifest or index by tag or digest, verified. */
export async function getManifest(target: ManifestTarget, identifier: string): Promise<ManifestBlob> {
  const url = target.transport.url(`${target.repository}/manifests/${identifier}`);
  const spec = { method: 'GET' as const, url, scopes: target.scopes, signal: target.signal, headers: { accept: ACCEPT } };
  const res = await target.transport.request(spec, [200], `getting manifest ${identifier} from ${target.repository}`);
  let bytes: Buffer;
  try {
    bytes = await readBounded(res, MANIFEST_CAP, `manifest ${identifier}`);
  } catch (err) {
    // undici says only "terminated" when the connection breaks mid-body: name the registry and manifest.
    // A body failure the transport already coded (timeouts.ts) is named here too; other coded errors pass.
    const broke = !(err instanceof ErrRegistry) || err instanceof ErrRegistryUnavailable;
    if (!broke || (err as { name?: string } | null)?.name === 'AbortError') throw err;
    const why = err instanceof ErrRegistryUnavailable ? err.message : describeCause(err);
    throw new ErrRegistryUnavailable(`manifest ${identifier} from ${target.transport.host}/${target.repository}: the connection broke (${why})`, { cause: err });
  }
  const digest = sha256(bytes);
  const expected = identifier.startsWith('sha256:') ? identifier : res.headers.get('docker-content-digest');
  if (expected !== null && expected !== digest) {
    throw registryDigestMismatch(`manifest ${identifier} from ${target.repository} has digest ${digest}, expected ${expected}`, { status: 200 });
  }
  const mediaType = mediaTypeOf(bytes, res.headers.get('content-type'), identifier);
  return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
}

/** HEADs a manifest: its descriptor, or undefined when absent. */
export async function headManifest(target: ManifestTarget, identifier: string): Promise<Descriptor | undefined> {
  const url = target.transport.url(`${target.repository}/manifests/${identifier}`);
  const spec = { method: 'HEAD' as const, url, scopes: target.scopes, signal: target.signal, headers: { accept: ACCEPT } };
  const res = await target.transport.request(spec, [200, 404], `checking manifest ${identifier} in ${target.repository}`);
  await drain(res);
  if (res.status === 404) return undefined;
  const digest = res.headers.get('docker-content-digest');
  const size = Number(res.headers.get('content-length'));
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (digest === null || !isDigest(digest) || !Number.isSafeInteger(size)) {
    // Without a digest header the only way to name it is to read it.
    return (await getManifest(target, identifier)).descriptor;
  }
  if (identifier.startsWith('sha256:') && digest !== identifier) {
    throw registryDigestMismatch(`manifest ${identifier} is reported as ${digest}`, { status: 200 });
  }
  return { mediaType: type, digest, size };
}

function mediaTypeOf(bytes: Buffer, header: string | null, identifier: string): string {
  let parsed: { mediaType?: unknown; manifests?: unknown; schemaVersion?: unknown };
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed;
  } catch {
    throw new ErrRegistryProtocol(`manifest ${identifier} is not JSON`);
  }
  if (parsed === null || typeof parsed !== 'object') throw new ErrRegistryProtocol(`manifest ${identifier} is not a JSON object`);
  if (typeof parsed.mediaType === 'string' && (MANIFEST_MEDIA_TYPES as readonly string[]).includes(parsed.mediaType)) return parsed.mediaType;
  const type = (header ?? '').split(';')[0]!.trim();
  if ((MANIFEST_MEDIA_TYPES as readonly string[]).includes(type)) return type;
  // An OCI manifest may omit mediaType: its shape tells.
  if (parsed.schemaVersion === 2) return Array.isArray(parsed.manifests) ? OCI_INDEX : OCI_MANIFEST;
  throw new ErrRegistryProtocol(`manifest ${identifier} has an unsupported media type`);
}
