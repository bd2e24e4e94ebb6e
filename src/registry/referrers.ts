// OCI 1.1 referrers in a registry (distribution spec 1.1, "Listing Referrers" and "Referrers Tag
// Schema"). A registry with the referrers API (GET /v2/<name>/referrers/<digest> answers 200 with an
// index) indexes an artifact manifest by its `subject` when it is PUT, so nothing more is needed. A
// registry without it (docker-registry 2.8 answers 404) is given the fallback: an index tagged
// `sha256-<hex of the subject digest>` listing the referrers, which a writer reads, adds to and PUTs
// back (other writers' entries kept). Two writers racing on the same tag can still lose one entry:
// the distribution API has no conditional PUT; the artifact stays in the registry and a second
// attach lists it again.
import type { Descriptor, ManifestBlob } from '../image/types.js';
import { canonicalJSON, sha256 } from '../image/json.js';
import { referrerEntry } from '../image/referrer.js';
import { ErrRegistryProtocol } from './errors.js';
import { getManifest, headManifest, putManifest, type ManifestTarget, MANIFEST_CAP } from './manifest.js';
import { OCI_INDEX } from '../core/media-types.js';
import { DIGEST_PATTERN } from '../core/hash.js';
import { drain, readBounded } from './transport.js';

/** The fallback tag of `digest`: `sha256:abc...` -> `sha256-abc...`. */
export function referrersTag(digest: string): string {
  if (!DIGEST_PATTERN.test(digest)) throw new ErrRegistryProtocol(`cannot name the referrers of ${JSON.stringify(digest)}`);
  return digest.replace(':', '-');
}

function entriesOf(bytes: Buffer, what: string): Descriptor[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ErrRegistryProtocol(`${what} is not JSON`);
  }
  const manifests = (doc as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(manifests) || !manifests.every((m) => typeof m === 'object' && m !== null && typeof (m as Descriptor).digest === 'string')) {
    throw new ErrRegistryProtocol(`${what} is not an image index of descriptors`);
  }
  return manifests as Descriptor[];
}

/** The referrers API's list for `digest`, or undefined when the registry has no such API (404). */
export async function referrersApi(target: ManifestTarget, digest: string): Promise<Descriptor[] | undefined> {
  const url = target.transport.url(`${target.repository}/referrers/${digest}`);
  const spec = { method: 'GET' as const, url, scopes: target.scopes, signal: target.signal, headers: { accept: OCI_INDEX } };
  const res = await target.transport.request(spec, [200, 404], `listing the referrers of ${digest} in ${target.repository}`);
  if (res.status === 404) {
    await drain(res);
    return undefined;
  }
  return entriesOf(await readBounded(res, MANIFEST_CAP, `referrers of ${digest}`), `the referrers list of ${digest}`);
}

/** The fallback tag's index (its entries), or undefined when the tag does not exist. */
async function fallbackIndex(target: ManifestTarget, tag: string): Promise<Descriptor[] | undefined> {
  if ((await headManifest(target, tag)) === undefined) return undefined;
  const m = await getManifest(target, tag);
  if (m.descriptor.mediaType !== OCI_INDEX) {
    // Something else holds the tag: it is not ours to replace.
    throw new ErrRegistryProtocol(`tag ${tag} in ${target.repository} holds a ${m.descriptor.mediaType}, not the OCI index of referrers it is reserved for`);
  }
  return entriesOf(m.bytes, `tag ${tag}`);
}

/** The referrers of `digest`: the API's list, else the fallback tag's, else none. */
export async function listReferrers(target: ManifestTarget, digest: string): Promise<{ referrers: Descriptor[]; via: 'api' | 'tag' }> {
  const api = await referrersApi(target, digest);
  if (api !== undefined) return { referrers: api, via: 'api' };
  return { referrers: (await fallbackIndex(target, referrersTag(digest))) ?? [], via: 'tag' };
}

/**
 * Makes `manifest` (already PUT, with `subject`) findable as a referrer of `subject`: nothing where the
 * registry has the API, else the fallback tag's index with it added (replacing an entry of the same
 * digest, keeping every other).
 */
export async function addReferrer(target: ManifestTarget, manifest: ManifestBlob, subject: Descriptor): Promise<'api' | 'tag'> {
  if ((await referrersApi(target, subject.digest)) !== undefined) return 'api';
  const tag = referrersTag(subject.digest);
  const existing = (await fallbackIndex(target, tag)) ?? [];
  const manifests = [...existing.filter((d) => d.digest !== manifest.descriptor.digest), referrerEntry(manifest)];
  const bytes = canonicalJSON({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  await putManifest(target, { descriptor: { mediaType: OCI_INDEX, digest: sha256(bytes), size: bytes.length }, bytes }, tag);
  return 'tag';
}
