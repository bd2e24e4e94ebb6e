// Public API of fastlayer.
export { Layer, type LayerValues } from './layer/layer.js';
export type { LayerOptions, EngineName } from './layer/options.js';
export type { LayerSource } from './layer/source.js';
export type { FileRange } from './layer/file-source.js';
export { Hash } from './hash.js';
export {
  DOCKER_LAYER_GZIP,
  OCI_LAYER_GZIP,
  OCI_LAYER_ZSTD,
  OCI_LAYER_UNCOMPRESSED,
  MediaTypes,
} from './media-types.js';
export {
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
  type ErrorCode,
} from './errors.js';
export { availableEngines, selectEngine } from './engine/engines.js';
export type { EngineInfo, Compression } from './engine/engine.js';
export { FORMAT_VERSION, BLOCK_SIZE } from './engine/format.js';
export { tarDirectory, type TarOptions } from './tar/directory.js';
export { RegistryDestination, type RegistryDestinationOptions, type ProgressEvent } from './registry/destination.js';
export { pull, pullToDestination, type PullOptions, type PulledImage } from './registry/pull.js';
export { pushLayout, pushArchive, ErrLayoutInvalid, type PushLayoutOptions } from './registry/layout.js';
export type { RegistryOptions } from './registry/client.js';
export type { Credentials } from './registry/credentials.js';
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
  type RegistryErrorCode,
  type RegistryErrorDetail,
} from './registry/errors.js';
