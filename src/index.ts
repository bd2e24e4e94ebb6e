// Public API of fastlayer.
export { Layer, type LayerValues } from './layer.js';
export type { LayerOptions, EngineName } from './options.js';
export type { LayerSource } from './source.js';
export type { FileRange } from './file-source.js';
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
export { availableEngines, selectEngine } from './engines.js';
export type { EngineInfo, Compression } from './engine.js';
export { FORMAT_VERSION, BLOCK_SIZE } from './format.js';
export { tarDirectory, type TarOptions } from './tar.js';
