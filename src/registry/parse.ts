// Reading manifest and index JSON a registry sent: the one parser (image/source.ts), failing with
// ErrRegistryProtocol. Every descriptor is checked before it is used to build a URL or a file path.
import type { Descriptor } from '../image/types.js';
import { parseIndex, parseManifest, parseObject } from '../image/source.js';
import { ErrRegistryProtocol } from './errors.js';

const fail = (message: string): Error => new ErrRegistryProtocol(message);

export function parseJSON(bytes: Uint8Array, what: string): Record<string, unknown> {
  return parseObject(bytes, what, fail);
}

export function imageManifest(bytes: Uint8Array, what: string): { config: Descriptor; layers: Descriptor[] } {
  return parseManifest(bytes, what, fail);
}

export function indexManifests(bytes: Uint8Array, what: string): Descriptor[] {
  return parseIndex(bytes, what, fail);
}
