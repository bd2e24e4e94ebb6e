// What a `--base`/`loadBase` string names: a local layout or archive, or an image in a registry. A
// prefix decides when given (`docker://REF`, `oci-layout:DIR`, `archive:FILE`); without one, a path
// that exists wins (so every base that worked before still does), a value that reads as a path
// (`/x`, `./x`, `../x`, `~/x`, `x.tar`) stays a path so that a typo says "no such file" instead of
// pulling from Docker Hub, and anything else must be a valid image reference.
import { existsSync } from 'node:fs';
import { ErrBaseImage } from './errors.js';
import { Reference, referenceIn } from './reference.js';

export type ResolvedBase = { kind: 'local'; path: string } | { kind: 'registry'; reference: Reference };

const PREFIXES = ['docker://', 'oci-layout:', 'archive:'] as const;
const STDIN = new Set(['-', '/dev/stdin', '/dev/fd/0', '/proc/self/fd/0']);

function looksLikePath(source: string): boolean {
  return /^(\.{1,2}|~)?\//.test(source) || source === '.' || source === '..' || /\.(tar|tgz|tar\.gz|tar\.zst)$/i.test(source);
}

export function resolveBaseSource(source: string): ResolvedBase {
  if (source.startsWith('docker://')) return { kind: 'registry', reference: referenceIn(source.slice('docker://'.length), source) };
  for (const prefix of PREFIXES.slice(1)) {
    if (!source.startsWith(prefix)) continue;
    const path = source.slice(prefix.length);
    if (path === '') throw new ErrBaseImage(`${source}: ${prefix} needs a path after it`);
    return { kind: 'local', path };
  }
  if (STDIN.has(source) || existsSync(source) || looksLikePath(source)) return { kind: 'local', path: source };
  try {
    return { kind: 'registry', reference: Reference.parse(source) };
  } catch (err) {
    throw new ErrBaseImage(
      `${source}: neither an existing layout or archive nor an image reference (${(err as Error).message}); say which with docker://, oci-layout: or archive:`,
      err,
    );
  }
}
