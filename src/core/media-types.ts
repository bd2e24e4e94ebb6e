// Layer media types. Docker's gzip type is the default because it is what go-containerregistry's
// stream.Layer reports and what every registry accepts.

export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Default media type of `compression: 'zstd'` layers. */
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const OCI_LAYER_UNCOMPRESSED = 'application/vnd.oci.image.layer.v1.tar';

export const MediaTypes = Object.freeze({
  DockerLayerGzip: DOCKER_LAYER_GZIP,
  OCILayerGzip: OCI_LAYER_GZIP,
  OCILayerZstd: OCI_LAYER_ZSTD,
  OCILayerUncompressed: OCI_LAYER_UNCOMPRESSED,
});
