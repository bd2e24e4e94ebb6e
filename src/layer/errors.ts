// Errors of the stream forms (createGzip, LayerCompressionStream). The option and chunk errors they
// share with the Layer stay in src/core/errors.ts.
import { FastlayerError } from '../core/errors.js';

export type StreamErrorCode = 'ERR_NOT_SUPPORTED';

/**
 * A zlib stream method that a layer stream cannot honour, with why: its bytes depend only on the
 * input, the level and the library versions (format v1 cuts deflate blocks and zstd frames at fixed
 * input offsets), and the engines have no way to end a block or frame on request.
 */
export class ErrNotSupported extends FastlayerError {
  readonly code = 'ERR_NOT_SUPPORTED' as const;
  constructor(readonly method: string, why: string) {
    super(`${method} is not supported by a layer stream: ${why}`);
    this.name = 'ErrNotSupported';
  }
}
