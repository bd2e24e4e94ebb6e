// Public API of fastlayer.
export { Layer, layerDescriptor, type LayerValues } from './layer/layer.js';
export type { LayerOptions, LayerCompression, EstargzLayerOptions, EngineName } from './layer/options.js';
export type { LayerSource } from './layer/source.js';
export type { FileRange } from './layer/file-source.js';
export { Hash } from './core/hash.js';
export {
  DOCKER_LAYER_GZIP,
  OCI_LAYER_GZIP,
  OCI_LAYER_ZSTD,
  OCI_LAYER_UNCOMPRESSED,
  OCI_MANIFEST,
  OCI_INDEX,
  OCI_CONFIG,
  OCI_EMPTY,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  DOCKER_CONFIG,
  ESTARGZ_TOC_DIGEST_ANNOTATION,
  ESTARGZ_UNCOMPRESSED_SIZE_ANNOTATION,
  MediaTypes,
} from './core/media-types.js';
export {
  FastlayerError,
  FastlayerTypeError,
  FastlayerRangeError,
  ErrNotComputed,
  ErrConsumed,
  ErrDestroyed,
  ErrInvalidChunk,
  ErrInvalidSource,
  ErrInvalidOption,
  ErrOptionRange,
  ErrInvalidHash,
  ErrEngineUnavailable,
  ErrEngineState,
  ErrTarSource,
  ErrChunkDetached,
  ErrDigestMismatch,
  type ErrorCode,
} from './core/errors.js';
export { availableEngines, selectEngine } from './engine/engines.js';
export type { EngineInfo, Compression } from './engine/engine.js';
export { FORMAT_VERSION, BLOCK_SIZE } from './engine/format.js';
export { tarDirectory, type TarOptions } from './tar/directory.js';
export { createGzip, createLayerStream, LayerTransform } from './layer/create-gzip.js';
export { LayerCompressionStream, type BufferSourceChunk } from './layer/web-stream.js';
export type { LayerStreamOptions, LayerCompressionStreamOptions } from './layer/stream-options.js';
export { ErrNotSupported, type StreamErrorCode } from './layer/errors.js';
export { Image, ImageIndex, type ImageOptions, type ImageIndexOptions, type BaseImage, type BaseSource, type LayerInput, type ImageLayer } from './image/image.js';
export type { ConfigOptions, Healthcheck, HistoryEntry } from './image/config.js';
export type { ImageFormat } from './image/manifest.js';
export { writeImage, type WriteOptions, type WriteProgress, type WriteResult, type WrittenImage } from './image/write.js';
export { OciLayout, writeLayout, type LayoutOptions } from './layout/layout.js';
export { ArchiveWriter, writeArchive, type ArchiveOptions } from './archive/archive.js';
export { loadBase, type BaseOptions } from './build/base.js';
export { buildImage, parseLayerArg, parseCommand, type BuildSpec, type LayerSpec, type TarLayerSpec } from './build/build.js';
export { buildNodeImage, nodeCommand, nodeSpec, type NodeBuildSpec } from './build/node.js';
export { generateSbom, SPDX_MEDIA_TYPE, type Sbom, type SbomOptions } from './build/sbom.js';
export { sbomReferrer, type SbomSpec } from './build/build.js';
export { ErrSbomLockfile } from './build/errors.js';
export { artifactManifest, type ReferrerContent, type ReferrerArtifact } from './image/referrer.js';
export { listReferrers, referrersTag } from './registry/referrers.js';
export { Reference } from './image/reference.js';
export { parsePlatform, formatPlatform } from './image/platform.js';
export type { Descriptor, Platform, KnownBlob, StreamingBlob, Blob, ManifestBlob, Destination } from './image/types.js';
export { ErrInvalidReference, ErrImageFormat, ErrBaseImage, ErrUnsafeArchivePath, ErrLayout, ErrConfigInvalid, ErrLayerFile, ErrDecompressUnavailable, ErrLayerSpool } from './image/errors.js';
export { ErrTarSourceChanged, ErrTarUnsafeEntry, ErrTarInvalid, type TarErrorCode } from './tar/errors.js';
export type { MtimePolicy, ModeOverride, EntryKind } from './tar/options.js';
export { readTar, checkEntry, type TarEntry, type TarHeader, type TarEntryType, type ReadTarOptions } from './tar/reader.js';
export { RegistryDestination, type RegistryDestinationOptions, type ProgressEvent } from './registry/destination.js';
export { pull, pullToDestination, type PullOptions, type PulledImage } from './registry/pull.js';
export { registrySource } from './registry/source.js';
export { layoutSource } from './layout/source.js';
export { selectPlatforms, isImageSource, type ImageSource } from './image/source.js';
export { copyImage, parseCopyEndpoint, type CopyOptions, type CopyResult, type CopyEndpoint } from './registry/copy.js';
export { pushLayout, pushArchive, ErrLayoutInvalid, type PushLayoutOptions } from './registry/layout.js';
export type { RegistryOptions } from './registry/client.js';
export type { Credentials } from './registry/credentials.js';
export { DEFAULT_HEADERS_TIMEOUT, DEFAULT_IDLE_TIMEOUT, type RegistryTimeouts } from './registry/timeouts.js';
export {
  ErrRegistry,
  ErrRegistryUnauthorized,
  ErrRegistryDenied,
  ErrRegistryNotFound,
  ErrRegistryDigestMismatch,
  ErrRegistryProtocol,
  ErrRegistryUnavailable,
  ErrRegistryStreamFailed,
  ErrRegistryCredentials,
  ErrRegistryTimeout,
  ErrRegistryTagsIncomplete,
  ErrTagRepository,
  type RegistryErrorCode,
  type RegistryErrorDetail,
} from './registry/errors.js';
export { parseMtimeArg, parseOwnerArg, type DirectoryLayerOptions } from './build/dir-layer.js';
export { pushImage, type PushImageOptions } from './registry/push.js';
export { LayerCache, cachedLayer, cachedDirectoryLayer, cachedLayers, defaultLayerCacheDir, layerCacheKey, layerCacheKeyId, resolveLayerCache, type LayerCacheKey, type LayerCacheEntry, type LayerCacheOptions, type CachedLayerOptions, type CacheUse, type SharedLayerCache } from './build/layer-cache.js';
export { RegistryLayerCache, CACHE_TAG, CACHE_TYPE, type RegistryLayerCacheEntry, type RegistryLayerCacheOptions } from './build/registry-cache.js';
export { estargzLayer, estargzAnnotations, readToc, DEFAULT_CHUNK_SIZE as ESTARGZ_DEFAULT_CHUNK_SIZE, TOC_NAME as ESTARGZ_TOC_NAME, ErrEstargzInvalid, ErrEstargzPrioritize, type EstargzLayer, type EstargzResult, type EstargzStats, type EstargzOptions, type Toc as EstargzToc, type TocEntry as EstargzTocEntry, type TocSummary as EstargzTocSummary } from './estargz/index.js';
