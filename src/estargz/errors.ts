// Errors of the eStargz writer and reader. Option mistakes are the core's ErrInvalidOption /
// ErrOptionRange; these are the faults of the data itself.
import { FastlayerError } from '../core/errors.js';

export type EstargzErrorCode = 'ERR_ESTARGZ_INVALID' | 'ERR_ESTARGZ_PRIORITIZE';

/** A blob that is not a well-formed eStargz layer (footer, TOC or a chunk does not match). */
export class ErrEstargzInvalid extends FastlayerError {
  readonly code = 'ERR_ESTARGZ_INVALID' as const;
  constructor(message: string, cause?: unknown) {
    super(`invalid eStargz blob: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'ErrEstargzInvalid';
  }
}

/**
 * Moving the prioritised files to the front would need more of the stream held in memory than the
 * cap allows (they come late in a large tar): list fewer files, or put them first in the tar.
 */
export class ErrEstargzPrioritize extends FastlayerError {
  readonly code = 'ERR_ESTARGZ_PRIORITIZE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ErrEstargzPrioritize';
  }
}
