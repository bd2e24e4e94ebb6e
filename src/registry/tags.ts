// Which tags a push writes. A push goes to one repository, so each extra name either is a tag of it
// or is refused up front: before this, `latest` was read as `docker.io/library/latest:latest`, names
// of other repositories were dropped at commit, and the push still listed them as written.
//
// The rule (docs/CLI.md, docs/REGISTRY.md):
// - a bare tag, that is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, the distribution spec's)
//   with no `/`, `:` or `@` in it: `latest`, `v1.2.3`, `sha-abc`, is a tag of the pushed repository;
// - anything else is a full name (normalised as Docker does) and must be in the pushed repository
//   and carry a tag and no digest: `host/team/app:v1`;
// - any other name is ErrTagRepository; a name that does not parse is ErrInvalidReference.
import { ErrInvalidOption } from '../core/errors.js';
import { Reference } from '../image/reference.js';
import { ErrTagRepository } from './errors.js';

const BARE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** True when `name` is a bare tag (`latest`, `v1.2.3`): a tag of whatever repository is pushed to. */
export function isBareTag(name: string): boolean {
  return BARE_TAG.test(name);
}

/**
 * The fully qualified names (`host/repo:tag`) a push to `reference` tags: its own tag first (when it
 * has one), then `names` in order, each once. Throws for a name it cannot tag, before anything is
 * written, so the list returned is exactly what the commit writes.
 */
export function pushTags(reference: Reference, names: readonly string[] = []): string[] {
  if (!Array.isArray(names)) throw new ErrInvalidOption('names', 'an array of tags or image names', names);
  const tags: string[] = reference.tag === undefined ? [] : [reference.tag];
  for (const name of names) {
    if (typeof name !== 'string') throw new ErrInvalidOption('names', 'an array of tags or image names', names);
    tags.push(tagOf(reference, name));
  }
  return [...new Set(tags)].map((tag) => `${reference.name}:${tag}`);
}

function tagOf(reference: Reference, name: string): string {
  if (isBareTag(name)) return name;
  const ref = Reference.parse(name);
  if (ref.name !== reference.name) {
    throw new ErrTagRepository(name, `it is in repository ${ref.name}, and this push goes to ${reference.name}: give a bare tag (${ref.tag ?? 'latest'}) or ${reference.name}:TAG`);
  }
  if (ref.digest !== undefined) throw new ErrTagRepository(name, 'a tag cannot pin a digest (the digest is the pushed image\'s own)');
  // Reference.parse gives a name with neither tag nor digest `latest`, as Docker does.
  return ref.tag!;
}
