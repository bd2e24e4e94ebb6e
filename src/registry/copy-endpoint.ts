// What each side of `copy SRC DST` names. The rules follow `--base` (image/base-source.ts) so one
// string means the same thing everywhere, with one addition: a destination need not exist yet.
// - a prefix decides when given: `docker://REF`, `oci-layout:DIR[:TAG]`, `archive:FILE`;
// - without one, an existing directory is an OCI layout and an existing file an archive;
// - a value that reads as a path (`/x`, `./x`, `../x`, `~/x`, `x.tar`) stays a path, so a typo says
//   "no such file" instead of reaching Docker Hub: a source by what exists, a destination that does
//   not exist yet is an archive when it ends in `.tar`, else a layout directory;
// - anything else must be an image reference.
import { statSync } from 'node:fs';
import { ErrInvalidReference } from '../image/errors.js';
import { Reference, referenceIn } from '../image/reference.js';
import { isBareTag } from './tags.js';

export type CopyEndpoint =
  | { readonly kind: 'registry'; readonly reference: Reference }
  /** `name`: the image's `org.opencontainers.image.ref.name` in the layout (`oci-layout:DIR:TAG`). */
  | { readonly kind: 'layout'; readonly path: string; readonly name?: string }
  | { readonly kind: 'archive'; readonly path: string };

function looksLikePath(value: string): boolean {
  return /^(\.{1,2}|~)?\//.test(value) || value === '.' || value === '..' || /\.tar$/i.test(value);
}

function kindOf(path: string): 'dir' | 'file' | undefined {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** Reads one side of a copy; `destination` changes only how a path that does not exist is taken. */
export function parseCopyEndpoint(value: string, side: 'source' | 'destination'): CopyEndpoint {
  if (typeof value !== 'string' || value === '') throw new ErrInvalidReference(String(value), `the copy ${side} is empty`);
  if (value.startsWith('docker://')) return { kind: 'registry', reference: referenceIn(value.slice('docker://'.length), value) };
  if (value.startsWith('oci-layout:')) {
    const rest = value.slice('oci-layout:'.length);
    // DIR:TAG when what follows the last colon is a tag and a directory is left before it.
    const colon = rest.lastIndexOf(':');
    const tag = colon > 0 ? rest.slice(colon + 1) : '';
    const path = tag !== '' && isBareTag(tag) ? rest.slice(0, colon) : rest;
    if (path === '') throw new ErrInvalidReference(value, 'oci-layout: needs a directory after it');
    return path === rest ? { kind: 'layout', path } : { kind: 'layout', path, name: tag };
  }
  if (value.startsWith('archive:')) {
    const path = value.slice('archive:'.length);
    if (path === '') throw new ErrInvalidReference(value, 'archive: needs a file after it');
    return { kind: 'archive', path };
  }
  const kind = kindOf(value);
  if (kind === 'dir') return { kind: 'layout', path: value };
  if (kind === 'file') return { kind: 'archive', path: value };
  if (looksLikePath(value)) return /\.tar$/i.test(value) ? { kind: 'archive', path: value } : { kind: 'layout', path: value };
  try {
    return { kind: 'registry', reference: Reference.parse(value) };
  } catch (err) {
    throw new ErrInvalidReference(
      value,
      `neither an existing layout or archive nor an image reference (${(err as Error).message}); say which with docker://, oci-layout: or archive:`,
    );
  }
}
