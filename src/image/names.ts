// How names appear in index.json and manifest.json: containerd reads `io.containerd.image.name` (the
// fully qualified name), skopeo's oci: transport and umoci `org.opencontainers.image.ref.name` (the
// tag), `docker load` the familiar `RepoTags` form (`app:1`, `ghcr.io/o/app:1`).
import { DOCKER_HUB, Reference } from './reference.js';
import type { Descriptor } from './types.js';

export const CONTAINERD_NAME = 'io.containerd.image.name';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export function familiar(name: string): string {
  const r = Reference.parse(name);
  let repo = r.name;
  if (r.registry === DOCKER_HUB) repo = r.repository.startsWith('library/') && r.repository.split('/').length === 2 ? r.repository.slice(8) : r.repository;
  return `${repo}${r.tag === undefined ? '' : `:${r.tag}`}${r.digest === undefined ? '' : `@${r.digest}`}`;
}

/** index.json entries for `top` under `names` (one per name; one without annotations if none). */
export function indexEntries(top: Descriptor, names: readonly string[]): Descriptor[] {
  const plain: Descriptor = { mediaType: top.mediaType, digest: top.digest, size: top.size };
  if (names.length === 0) return [plain];
  return names.map((name) => {
    const r = Reference.parse(name);
    const annotations: Record<string, string> = { [CONTAINERD_NAME]: r.toString() };
    if (r.tag !== undefined) annotations[REF_NAME] = r.tag;
    return { ...plain, annotations };
  });
}
