// Platforms as `os/arch[/variant]` strings (what --platform takes) and as OCI objects, and the one
// rule for which image of an index a wanted platform picks.
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import { ErrBaseImage } from './errors.js';
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

const FIELDS = ['variant', 'os.version', 'os.features'] as const;

/**
 * The platform an image config says: os, architecture, variant, os.version and os.features (null as
 * absent), each field the config leaves out taken from `listed`, the platform its index entry lists,
 * when that entry is of the same os and architecture (Docker Hub's configs often lack the variant
 * their index names). The config wins where both have one: it describes the layers.
 */
export function configPlatform(config: Readonly<Record<string, unknown>>, listed?: Platform): Platform {
  const value: Record<string, unknown> = { os: config.os, architecture: config.architecture };
  const same = listed !== undefined && listed.os === config.os && listed.architecture === config.architecture;
  for (const k of FIELDS) {
    const v = config[k] ?? (same ? listed[k] : undefined);
    if (v !== undefined && v !== null) value[k] = v;
  }
  return parsePlatform(value as unknown as Platform);
}

/** A base image's whole platform (configPlatform), or ErrBaseImage naming `source` when its config has none. */
export function basePlatform(config: Readonly<Record<string, unknown>>, source: string, listed?: Platform): Platform {
  try {
    return configPlatform(config, listed);
  } catch (err) {
    throw new ErrBaseImage(`${source}: config has no valid platform (os/architecture, variant, os.version, os.features)`, err);
  }
}

/**
 * Refuses a base of `have` where `want` was asked for (platformMatches): an image built on it would
 * have a config that lies about its layers. ErrBaseImage naming `source`.
 */
export function checkBasePlatform(have: Platform, want: Platform, source: string): void {
  if (!platformMatches(have, want)) throw new ErrBaseImage(`${source}: the base image is ${describePlatform(have)}, not ${describePlatform(want)}`);
}

/** formatPlatform with the os.version when there is one: for messages, where two Windows images must differ. */
export function describePlatform(p: Platform): string {
  return p['os.version'] ? `${formatPlatform(p)} (os.version ${p['os.version']})` : formatPlatform(p);
}

/** What one platform is for matching and for "one image per platform": os, architecture, normal variant, os.version. */
export function platformKey(p: Platform): string {
  return `${p.os}/${p.architecture}/${normalVariant(p) ?? ''}/${p['os.version'] ?? ''}`;
}

/**
 * The variant with the defaults containerd's platforms package assumes: arm without one is v7
 * (what `linux/arm` means to Docker and containerd, so it never picks a v6 image), arm64 is v8 with
 * or without it, and amd64's v1 is plain amd64. Other variants compare as written.
 */
function normalVariant(p: Platform): string | undefined {
  const v = p.variant || undefined;
  if (p.architecture === 'arm') return v ?? 'v7';
  if (p.architecture === 'arm64') return v === undefined || v === 'v8' || v === 'v8.0' ? 'v8' : v;
  if (p.architecture === 'amd64') return v === 'v1' ? undefined : v;
  return v;
}

/**
 * Whether an image of os.version `have` runs where `want` is asked for: the same build, i.e. the
 * first three parts (major.minor.build) of `want` equal `have`'s, as containerd and Docker compare
 * Windows versions (10.0.20348.2227 takes any 10.0.20348.x image, never a 10.0.17763 one). A want of
 * fewer parts compares those it has.
 */
function sameBuild(have: string | undefined, want: string): boolean {
  if (have === undefined) return false;
  const h = have.split('.');
  return want.split('.').slice(0, 3).every((part, i) => h[i] === part);
}

/**
 * The variants an image may have to run where `want` is asked for, best first, as containerd's
 * platforms.Only orders them: an arm/v7 machine runs v6 and v5 images too (so `linux/arm` takes a v7
 * image, else a v6 one), amd64/v3 runs v2 and plain amd64 ones. Other architectures: their own.
 */
function compatibleVariants(want: Platform): (string | undefined)[] {
  const v = normalVariant(want);
  const ladder: readonly (string | undefined)[] | undefined =
    want.architecture === 'arm' ? ['v8', 'v7', 'v6', 'v5'] : want.architecture === 'amd64' ? ['v4', 'v3', 'v2', undefined] : undefined;
  const at = ladder ? ladder.indexOf(v) : -1;
  return at < 0 ? [v] : ladder!.slice(at);
}

/**
 * How well `have` satisfies `want`, 0 best, -1 not at all: os and architecture equal, `have`'s
 * normalised variant among `want`'s compatible ones (compatibleVariants: the rank is its place
 * there), and, when `want` has an os.version, the same build (sameBuild). os.features are not
 * compared (containerd does not either).
 */
function matchRank(have: Platform | undefined, want: Platform): number {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return -1;
  if (want['os.version'] && !sameBuild(have['os.version'], want['os.version'])) return -1;
  return compatibleVariants(want).indexOf(normalVariant(have));
}

/** Whether `have` satisfies `want` (matchRank): the same platform, or one `want`'s machines run. */
export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  return matchRank(have, want) >= 0;
}

/**
 * The index of the entry of `entries` that `want` picks, -1 for none: the best variant first (v7
 * before v6 for `linux/arm`), then one whose os.version equals the wanted one exactly before one of
 * the same build only, then the first listed.
 */
export function pickPlatform(entries: readonly { platform?: Platform | undefined }[], want: Platform): number {
  let best = -1;
  let bestScore = Infinity;
  entries.forEach((e, i) => {
    const rank = matchRank(e.platform, want);
    if (rank < 0) return;
    const inexact = want['os.version'] !== undefined && e.platform!['os.version'] !== want['os.version'] ? 1 : 0;
    const score = rank * 2 + inexact;
    if (score < bestScore) [best, bestScore] = [i, score];
  });
  return best;
}
