// Platforms as `os/arch[/variant]` strings (what --platform takes) and as OCI objects.
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import type { Platform } from './types.js';

const PART = /^[a-z0-9._-]+$/;

export function parsePlatform(value: string | Platform): Platform {
  if (typeof value === 'object' && value !== null) {
    if (typeof value.os !== 'string' || typeof value.architecture !== 'string' || !PART.test(value.os) || !PART.test(value.architecture)) {
      throw new ErrOptionRange('platform', 'an object with os and architecture', value);
    }
    if (value.variant !== undefined && (typeof value.variant !== 'string' || !PART.test(value.variant))) {
      throw new ErrOptionRange('platform.variant', 'a lowercase word', value.variant);
    }
    // Checked, not converted: String({}) or [...'sse4'] would be written into the config as if meant.
    const version: unknown = value['os.version'];
    if (version !== undefined && typeof version !== 'string') throw new ErrInvalidOption('platform.os.version', 'a string', version);
    const features: unknown = value['os.features'];
    if (features !== undefined && !(Array.isArray(features) && features.every((f) => typeof f === 'string'))) {
      throw new ErrInvalidOption('platform.os.features', 'an array of strings', features);
    }
    const out: Platform = { architecture: value.architecture, os: value.os };
    if (value.variant) out.variant = value.variant;
    if (version !== undefined) out['os.version'] = version;
    if (features !== undefined) out['os.features'] = [...(features as string[])];
    return out;
  }
  if (typeof value !== 'string') throw new ErrInvalidOption('platform', 'an "os/arch[/variant]" string or a platform object', value);
  const parts = value.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => PART.test(p))) {
    throw new ErrOptionRange('platform', 'of the form os/arch[/variant], e.g. linux/amd64 or linux/arm/v7', value);
  }
  const out: Platform = { architecture: parts[1]!, os: parts[0]! };
  if (parts[2]) out.variant = parts[2];
  return out;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** Whether `have` satisfies `want` (a missing variant in `want` matches any, arm64's v8 is its default). */
export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  if (!want.variant) return true;
  const hv = have.variant ?? (have.architecture === 'arm64' ? 'v8' : undefined);
  return hv === want.variant;
}
