// Errors of the tar writer and reader. Each has its own class and a stable code; ErrTarSource
// (src/core/errors.ts) stays the error for a source that cannot be read at all.
import { FastlayerError } from '../core/errors.js';

export type TarErrorCode = 'ERR_TAR_SOURCE_CHANGED' | 'ERR_TAR_UNSAFE_ENTRY' | 'ERR_TAR_INVALID';

/**
 * The tree changed under the walker in a way that would make the archive lie or escape its root: an
 * entry was replaced (by a symlink, by another file or type), removed, or a file's size changed while
 * it was read. Nothing read after the change is emitted.
 */
export class ErrTarSourceChanged extends FastlayerError {
  readonly code = 'ERR_TAR_SOURCE_CHANGED' as const;
  constructor(readonly path: string, what: string, cause?: unknown) {
    super(`${path}: ${what} while it was being archived`, cause === undefined ? undefined : { cause });
    this.name = 'ErrTarSourceChanged';
  }
}

/** A tar entry whose name or link target would land outside the extraction root. */
export class ErrTarUnsafeEntry extends FastlayerError {
  readonly code = 'ERR_TAR_UNSAFE_ENTRY' as const;
  constructor(readonly entry: string, why: string) {
    super(`unsafe tar entry ${JSON.stringify(entry)}: ${why}`);
    this.name = 'ErrTarUnsafeEntry';
  }
}

/** A tar stream that cannot be parsed (bad header, checksum, truncated data). */
export class ErrTarInvalid extends FastlayerError {
  readonly code = 'ERR_TAR_INVALID' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrTarInvalid';
  }
}
