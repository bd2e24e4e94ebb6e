// How names appear in index.json and manifest.json: containerd reads `io.containerd.image.name` (the
// fully qualified name), skopeo's oci: transport and umoci `org.opencontainers.image.ref.name` (the
// tag), `docker load` the familiar `RepoTags` form (`app:1`, `ghcr.io/o/app:1`). namedEntries is the
// one rule for choosing an image of index.json by name (loadBase, push, inspect).
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

/**
 * Whether index.json entry `d` is named `name`: its ref.name or containerd name is `name`, its
 * ref.name ends in `:name` (a tag, as skopeo and umoci write it), or its containerd name is `name`
 * normalised (`app:1` is `docker.io/library/app:1`).
 */
export function isNamed(d: Descriptor, name: string): boolean {
  const a = d.annotations ?? {};
  if (a[REF_NAME] === name || a[CONTAINERD_NAME] === name || a[REF_NAME]?.endsWith(`:${name}`)) return true;
  if (a[CONTAINERD_NAME] === undefined) return false;
  try {
    return a[CONTAINERD_NAME] === Reference.parse(name).toString();
  } catch {
    return false;
  }
}

/**
 * The images of index.json `entries` named `name` (all without a name), one per digest: an image
 * listed under several names is one image. Entries with an artifactType are referrers (an SBOM
 * listed beside the image), not images.
 */
export function namedEntries(entries: readonly Descriptor[], name: string | undefined): Descriptor[] {
  const images = entries.filter((d) => d.artifactType === undefined && (name === undefined || isNamed(d, name)));
  return images.filter((d, i) => images.findIndex((e) => e.digest === d.digest) === i);
}
