// Image manifests and indexes, OCI (default) or Docker schema 2, as canonical JSON blobs.
//
// Layer media types follow the manifest's format, not the Layer: a Layer reports Docker's gzip type
// by default (what ggcr's stream.Layer reports), but the bytes of a gzip layer are the same in both
// worlds, so an OCI manifest lists it as OCI gzip and a Docker manifest as Docker gzip. Media types
// with no counterpart are kept in OCI manifests and refused in Docker ones (ErrImageFormat): Docker
// schema 2 has no zstd and no uncompressed layer type that `docker load` and registries agree on.
import {
  DOCKER_CONFIG, DOCKER_FOREIGN_GZIP, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG, OCI_INDEX,
  OCI_LAYER_GZIP, OCI_LAYER_UNCOMPRESSED, OCI_LAYER_ZSTD, OCI_MANIFEST, OCI_NONDISTRIBUTABLE_GZIP,
} from '../core/media-types.js';
import { Readable } from 'node:stream';
import { ErrImageFormat } from './errors.js';
import { canonicalJSON, sha256 } from './json.js';
import type { Descriptor, KnownBlob, ManifestBlob } from './types.js';

export type ImageFormat = 'oci' | 'docker';

export const MANIFEST_TYPES: Readonly<Record<ImageFormat, { manifest: string; index: string; config: string }>> = {
  oci: { manifest: OCI_MANIFEST, index: OCI_INDEX, config: OCI_CONFIG },
  docker: { manifest: DOCKER_MANIFEST, index: DOCKER_MANIFEST_LIST, config: DOCKER_CONFIG },
};

/** The media type a layer is listed with in a manifest of `format`. */
export function layerMediaType(mediaType: string, format: ImageFormat): string {
  if (format === 'oci') {
    if (mediaType === DOCKER_LAYER_GZIP) return OCI_LAYER_GZIP;
    if (mediaType === DOCKER_FOREIGN_GZIP) return OCI_NONDISTRIBUTABLE_GZIP;
    return mediaType;
  }
  if (mediaType === OCI_LAYER_GZIP || mediaType === DOCKER_LAYER_GZIP) return DOCKER_LAYER_GZIP;
  if (mediaType === OCI_NONDISTRIBUTABLE_GZIP || mediaType === DOCKER_FOREIGN_GZIP) return DOCKER_FOREIGN_GZIP;
  const what = mediaType === OCI_LAYER_ZSTD ? 'zstd' : mediaType === OCI_LAYER_UNCOMPRESSED ? 'uncompressed' : `"${mediaType}"`;
  throw new ErrImageFormat(
    `a Docker schema 2 manifest cannot list a ${what} layer (${mediaType}); use format 'oci' or a gzip layer`,
  );
}

function clean(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations };
  if (d.platform) out.platform = d.platform;
  if (d.urls) out.urls = d.urls;
  if (d.artifactType) out.artifactType = d.artifactType;
  return out;
}

function refuseAnnotations(format: ImageFormat, annotations: Record<string, string> | undefined): void {
  if (format === 'docker' && annotations && Object.keys(annotations).length > 0) {
    throw new ErrImageFormat('Docker schema 2 manifests have no annotations; use format \'oci\'');
  }
}

function blob(mediaType: string, json: unknown, extra?: Partial<Descriptor>): ManifestBlob {
  const bytes = canonicalJSON(json);
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, ...extra } };
}

export function buildManifest(input: {
  format: ImageFormat;
  config: Descriptor;
  layers: readonly Descriptor[];
  annotations?: Record<string, string>;
  platform?: Descriptor['platform'];
}): ManifestBlob {
  const types = MANIFEST_TYPES[input.format];
  refuseAnnotations(input.format, input.annotations);
  const json = {
    schemaVersion: 2,
    mediaType: types.manifest,
    config: clean({ ...input.config, mediaType: types.config }),
    layers: input.layers.map((l) => clean({ ...l, mediaType: layerMediaType(l.mediaType, input.format) })),
    annotations: input.annotations && Object.keys(input.annotations).length > 0 ? input.annotations : undefined,
  };
  return blob(types.manifest, json, input.platform ? { platform: input.platform } : undefined);
}

export function buildIndex(input: {
  format: ImageFormat;
  manifests: readonly Descriptor[];
  annotations?: Record<string, string>;
}): ManifestBlob {
  const types = MANIFEST_TYPES[input.format];
  refuseAnnotations(input.format, input.annotations);
  const json = {
    schemaVersion: 2,
    mediaType: types.index,
    manifests: input.manifests.map(clean),
    annotations: input.annotations && Object.keys(input.annotations).length > 0 ? input.annotations : undefined,
  };
  return blob(types.index, json);
}

/** A known blob of bytes held in memory (configs). */
export function bytesBlob(bytes: Buffer, mediaType: string): KnownBlob {
  return { kind: 'known', descriptor: { mediaType, digest: sha256(bytes), size: bytes.length }, open: () => Readable.from([bytes]) };
}
