// OCI 1.1 referrers: an artifact (an SBOM, a signature) attached to an image by an image manifest
// whose `subject` is the image's descriptor and whose `artifactType` says what it is, with the
// empty config (`{}`, application/vnd.oci.empty.v1+json) the image spec prescribes for artifacts
// without a config of their own. Destinations list it where readers look (Destination.addReferrer).
import { ErrInvalidOption } from '../core/errors.js';
import { canonicalJSON, sha256 } from './json.js';
import { OCI_EMPTY, OCI_MANIFEST } from '../core/media-types.js';
import type { Descriptor, KnownBlob, ManifestBlob } from './types.js';
import { Readable } from 'node:stream';

/** The 2-byte `{}` blob, sha256:44136fa3...: the config of an artifact that has none. */
export const EMPTY_BYTES = Buffer.from('{}');

/** What to attach: its bytes and media type; artifactType defaults to the media type. */
export interface ReferrerContent {
  mediaType: string;
  bytes: Buffer;
  artifactType?: string;
  /** Annotations of the artifact manifest (and of its entry in a referrers list). */
  annotations?: Record<string, string>;
}

export interface ReferrerArtifact {
  /** The empty config and the content, to be written before the manifest. */
  blobs: KnownBlob[];
  manifest: ManifestBlob;
}

function known(bytes: Buffer, mediaType: string): KnownBlob {
  return { kind: 'known', descriptor: { mediaType, digest: sha256(bytes), size: bytes.length }, open: () => Readable.from([bytes]) };
}

export function checkReferrerContent(c: unknown, where: string): asserts c is ReferrerContent {
  if (typeof c !== 'object' || c === null) throw new ErrInvalidOption(where, 'an object with mediaType and bytes', c);
  const r = c as Partial<ReferrerContent>;
  if (typeof r.mediaType !== 'string' || r.mediaType === '') throw new ErrInvalidOption(`${where}.mediaType`, 'a media type', r.mediaType);
  if (!Buffer.isBuffer(r.bytes)) throw new ErrInvalidOption(`${where}.bytes`, 'a Buffer', r.bytes);
  if (r.artifactType !== undefined && (typeof r.artifactType !== 'string' || r.artifactType === '')) throw new ErrInvalidOption(`${where}.artifactType`, 'a media type', r.artifactType);
}

/** The artifact manifest attaching `content` to `subject`, and the blobs it lists. */
export function artifactManifest(subject: Descriptor, content: ReferrerContent): ReferrerArtifact {
  const config = known(EMPTY_BYTES, OCI_EMPTY);
  const layer = known(content.bytes, content.mediaType);
  const artifactType = content.artifactType ?? content.mediaType;
  const annotations = content.annotations !== undefined && Object.keys(content.annotations).length > 0 ? { ...content.annotations } : undefined;
  const bytes = canonicalJSON({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: config.descriptor,
    layers: [layer.descriptor],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  });
  const descriptor: Descriptor = { mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.length, artifactType, ...(annotations ? { annotations } : {}) };
  return { blobs: [config, layer], manifest: { descriptor, bytes } };
}

/** The referrer entry of an index (a layout's index.json, a referrers list): the descriptor with artifactType and annotations. */
export function referrerEntry(m: ManifestBlob): Descriptor {
  const d = m.descriptor;
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(d.artifactType ? { artifactType: d.artifactType } : {}), ...(d.annotations ? { annotations: { ...d.annotations } } : {}) };
}
