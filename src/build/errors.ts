// Errors of the build folder that no other folder's class fits.
import { FastlayerError } from '../core/errors.js';

/**
 * An SBOM cannot be made from the project: no lockfile, a lockfile npm 6 wrote (version 1 lists
 * packages in a nested `dependencies` tree without the `packages` map this reads), or one that is
 * not what npm writes. `reason` is a stable word for callers: 'missing', 'version', 'invalid',
 * 'too-large', 'symlink'.
 */
export class ErrSbomLockfile extends FastlayerError {
  readonly code = 'ERR_SBOM_LOCKFILE' as const;
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'ErrSbomLockfile';
    this.reason = reason;
  }
}
