// Errors of the image model (references, configs, manifests, archives, layouts).
import { FastlayerError, FastlayerTypeError } from '../core/errors.js';

/** A name that is not a valid image reference. */
export class ErrInvalidReference extends FastlayerTypeError {
  readonly code = 'ERR_INVALID_REFERENCE' as const;
  constructor(name: string, reason: string) {
    super(`invalid image reference "${name}": ${reason}`);
    this.name = 'ErrInvalidReference';
  }
}

/** A media type or feature the requested manifest format cannot carry (e.g. zstd in Docker schema 2). */
export class ErrImageFormat extends FastlayerError {
  readonly code = 'ERR_IMAGE_FORMAT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ErrImageFormat';
  }
}

/** A base image (layout, OCI archive, docker-save archive) that cannot be read or is inconsistent. */
export class ErrBaseImage extends FastlayerError {
  readonly code = 'ERR_BASE_IMAGE' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrBaseImage';
  }
}

/** An archive entry whose name is absolute, contains `..` or is otherwise unsafe to resolve. */
export class ErrUnsafeArchivePath extends FastlayerError {
  readonly code = 'ERR_UNSAFE_ARCHIVE_PATH' as const;
  constructor(archive: string, name: string) {
    super(`${archive}: unsafe entry name ${JSON.stringify(name)} (absolute, "..", or empty component)`);
    this.name = 'ErrUnsafeArchivePath';
  }
}

/**
 * The codes of ErrLayout, which say on which side the layout failed: ERR_IMAGE_LAYOUT when one
 * cannot be written (a directory that is not a layout, an unsupported version, a held lock),
 * ERR_LAYOUT_INVALID when a layout or archive being read is not a valid one (a missing or wrong blob,
 * an unsafe name, an ambiguous index.json).
 */
export type LayoutErrorCode = 'ERR_IMAGE_LAYOUT' | 'ERR_LAYOUT_INVALID';

/** An OCI image layout (a directory, or an archive holding one) that cannot be written or read as one. */
export class ErrLayout extends FastlayerError {
  readonly code: LayoutErrorCode;
  constructor(message: string, cause?: unknown, code: LayoutErrorCode = 'ERR_IMAGE_LAYOUT') {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.name = 'ErrLayout';
  }
}

/** ErrLayout for a layout or archive being read: code ERR_LAYOUT_INVALID. */
export function layoutInvalid(message: string, cause?: unknown): ErrLayout {
  return new ErrLayout(message, cause, 'ERR_LAYOUT_INVALID');
}

/**
 * A JSON document (a base image's config, a manifest, an index) that fastlayer cannot carry over
 * unchanged: nested deeper than MAX_JSON_DEPTH, or holding a number JSON.parse would round.
 */
export class ErrConfigInvalid extends FastlayerError {
  readonly code = 'ERR_CONFIG_INVALID' as const;
  constructor(message: string) {
    super(message);
    this.name = 'ErrConfigInvalid';
  }
}

/**
 * A tar file given as a layer (`--layer FILE.tar`) that cannot become one as it is: not a regular
 * file, or compressed data that is truncated, corrupt or followed by other bytes. A fault of the tar
 * itself is ErrTarInvalid / ErrTarUnsafeEntry.
 */
export class ErrLayerFile extends FastlayerError {
  readonly code = 'ERR_LAYER_FILE' as const;
  constructor(readonly path: string, why: string, cause?: unknown) {
    super(`${path}: ${why}`, cause === undefined ? undefined : { cause });
    this.name = 'ErrLayerFile';
  }
}

/** Input compressed in a format this runtime cannot decompress (a .tar.zst on Node 20), with why. */
export class ErrDecompressUnavailable extends FastlayerError {
  readonly code = 'ERR_DECOMPRESS_UNAVAILABLE' as const;
  constructor(readonly path: string, why: string) {
    super(`${path}: cannot decompress it here: ${why}`);
    this.name = 'ErrDecompressUnavailable';
  }
}

/**
 * A layer compressed ahead of its turn (spool.ts) could not be spooled to a temporary file under
 * os.tmpdir() (full disk, no permission). Nothing of the spool is left behind.
 */
export class ErrLayerSpool extends FastlayerError {
  readonly code = 'ERR_LAYER_SPOOL' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrLayerSpool';
  }
}
