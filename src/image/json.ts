// Canonical JSON for configs, manifests and indexes: object keys sorted by code unit at every level,
// no whitespace, undefined members left out. Sorted keys make the bytes (and so the digest) a function
// of the content alone, whatever order the caller or a base image's JSON built the objects in.
import { createHash } from 'node:crypto';

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : normalise(v)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = normalise(v);
    }
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('JSON cannot hold a non-finite number');
  return value;
}

export function canonicalJSON(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(normalise(value)), 'utf8');
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
