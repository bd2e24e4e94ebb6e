// Reading manifest and index JSON from outside (a registry, a layout directory): every descriptor is
// checked before it is used to build a URL or a file path.
import type { Descriptor } from '../image/types.js';
import { checkDescriptor } from '../image/source.js';
import { ErrRegistryProtocol } from './errors.js';


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

/** A descriptor checked as every source checks one (image/source.ts), failing as a registry's document does. */
export function descriptor(value: unknown, what: string): Descriptor {
  return checkDescriptor(value, what, (message) => new ErrRegistryProtocol(message));
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
