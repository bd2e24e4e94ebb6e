// Every media type fastlayer reads or writes, defined once: layers, configs, manifests, indexes and
// the empty descriptor. Docker's gzip layer type is the default because it is what
// go-containerregistry's stream.Layer reports and what every registry accepts.

export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
/** Docker's uncompressed layer type (docker save writes it; fastlayer only reads it). */
export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';
export const DOCKER_FOREIGN_GZIP = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Default media type of `compression: 'zstd'` layers. */
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const OCI_LAYER_UNCOMPRESSED = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_NONDISTRIBUTABLE_GZIP = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';

/**
 * The annotations of an eStargz layer's descriptor (docs/ESTARGZ.md): the digest of its TOC JSON,
 * which stargz-snapshotter checks the TOC it reads against, and the size of its uncompressed tar.
 */
export const ESTARGZ_TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';
export const ESTARGZ_UNCOMPRESSED_SIZE_ANNOTATION = 'io.containers.estargz.uncompressed-size';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** The empty descriptor's type (`{}`), the config of an artifact manifest (image-spec 1.1). */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

/** Every manifest and index type a registry is asked for (Accept) and fastlayer reads. */
export const MANIFEST_MEDIA_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST] as const;

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

export function isManifestType(mediaType: string | undefined): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

/** An uncompressed layer, whose digest is its diffID. */
export function isUncompressedLayer(mediaType: string): boolean {
  return mediaType === OCI_LAYER_UNCOMPRESSED || mediaType === DOCKER_LAYER_TAR;
}

export const MediaTypes = Object.freeze({
  DockerLayerGzip: DOCKER_LAYER_GZIP,
  OCILayerGzip: OCI_LAYER_GZIP,
  OCILayerZstd: OCI_LAYER_ZSTD,
  OCILayerUncompressed: OCI_LAYER_UNCOMPRESSED,
});
