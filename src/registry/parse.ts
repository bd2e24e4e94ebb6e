// Reading manifest and index JSON from outside (a registry, a layout directory): every descriptor is
// checked before it is used to build a URL or a file path.
import type { Descriptor, Platform } from '../image/types.js';
import { ErrRegistryProtocol } from './errors.js';
import { DIGEST_PATTERN as DIGEST } from '../core/hash.js';


export function parseJSON(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ErrRegistryProtocol(`${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ErrRegistryProtocol(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function descriptor(value: unknown, what: string): Descriptor {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object') throw new ErrRegistryProtocol(`${what}: descriptor is not an object`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length > 255) throw new ErrRegistryProtocol(`${what}: descriptor without a valid mediaType`);
  if (typeof v.digest !== 'string' || !DIGEST.test(v.digest)) throw new ErrRegistryProtocol(`${what}: descriptor digest is not sha256:<64 lowercase hex>`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new ErrRegistryProtocol(`${what}: descriptor size is not a non-negative integer`);
  const d: Descriptor = { mediaType: v.mediaType, digest: v.digest, size: v.size };
  if (v.annotations !== null && typeof v.annotations === 'object') d.annotations = v.annotations as Record<string, string>;
  if (v.platform !== null && typeof v.platform === 'object') d.platform = v.platform as Platform;
  if (typeof v.artifactType === 'string' && v.artifactType.length <= 255) d.artifactType = v.artifactType;
  return d;
}

export function imageManifest(bytes: Uint8Array, what: string): { config: Descriptor; layers: Descriptor[] } {
  const m = parseJSON(bytes, what);
  if (!Array.isArray(m.layers)) throw new ErrRegistryProtocol(`${what}: no layers array`);
  if (m.layers.length > 10_000) throw new ErrRegistryProtocol(`${what}: too many layers`);
  return { config: descriptor(m.config, `${what} config`), layers: m.layers.map((l, i) => descriptor(l, `${what} layer ${i}`)) };
}

export function indexManifests(bytes: Uint8Array, what: string): Descriptor[] {
  const m = parseJSON(bytes, what);
  if (!Array.isArray(m.manifests)) throw new ErrRegistryProtocol(`${what}: no manifests array`);
  if (m.manifests.length > 10_000) throw new ErrRegistryProtocol(`${what}: too many manifests`);
  return m.manifests.map((d, i) => descriptor(d, `${what} manifest ${i}`));
}
