// Every error fastlayer raises carries a stable `code`, so callers can branch on it without parsing
// messages, and is its own class, so `instanceof` works too. Argument errors subclass TypeError or
// RangeError to match what Node's own APIs throw for the same mistakes.

const BRAND = Symbol.for('fastlayer.error');

function brand(cls: abstract new (...args: never[]) => Error): void {
  Object.defineProperty(cls.prototype, BRAND, { value: true });
}

/**
 * The base of every error fastlayer raises: `err instanceof FastlayerError` holds for all of them,
 * and each has its stable `code`. Argument errors subclass TypeError or RangeError (through
 * FastlayerTypeError and FastlayerRangeError, which a class cannot also extend this one), so the
 * check is by a brand their prototypes carry rather than by the prototype chain.
 */
export abstract class FastlayerError extends Error {
  abstract readonly code: string;

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep the ordinary prototype-chain check (an ErrLayout is not any fastlayer error).
    if (this !== FastlayerError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
brand(FastlayerError);

/** A fastlayer error that is a TypeError (a wrong type of argument or option), as Node's own are. */
export abstract class FastlayerTypeError extends TypeError {
  abstract readonly code: string;
}
brand(FastlayerTypeError);

/** A fastlayer error that is a RangeError (a value of the right type out of range), as Node's own are. */
export abstract class FastlayerRangeError extends RangeError {
  abstract readonly code: string;
}
brand(FastlayerRangeError);

/** Codes of the errors raised by fastlayer itself (the native addon adds ERR_FASTLAYER_*). */
export type ErrorCode =
  | 'ERR_LAYER_NOT_COMPUTED'
  | 'ERR_LAYER_CONSUMED'
  | 'ERR_LAYER_DESTROYED'
  | 'ERR_INVALID_CHUNK'
  | 'ERR_INVALID_SOURCE'
  | 'ERR_INVALID_OPTION'
  | 'ERR_OPTION_OUT_OF_RANGE'
  | 'ERR_INVALID_HASH'
  | 'ERR_ENGINE_UNAVAILABLE'
  | 'ERR_ENGINE_STATE'
  | 'ERR_TAR_SOURCE'
  | 'ERR_CHUNK_DETACHED';

/** Values (digest, diffID, size) were read before the layer was fully produced. */
export class ErrNotComputed extends FastlayerError {
  readonly code = 'ERR_LAYER_NOT_COMPUTED' as const;
  constructor(what: string) {
    super(`${what} is not computed yet: consume the layer stream to its end first`);
    this.name = 'ErrNotComputed';
  }
}

/** compressed() or uncompressed() was called a second time: a layer is a single pass. */
export class ErrConsumed extends FastlayerError {
  readonly code = 'ERR_LAYER_CONSUMED' as const;
  constructor() {
    super('the layer stream was already requested: compressed() and uncompressed() may be called once in total');
    this.name = 'ErrConsumed';
  }
}

/** The layer stream was destroyed (without an error of its own) before it was fully produced. */
export class ErrDestroyed extends FastlayerError {
  readonly code = 'ERR_LAYER_DESTROYED' as const;
  constructor() {
    super('the layer stream was destroyed before it was fully produced');
    this.name = 'ErrDestroyed';
  }
}

/** The source yielded something other than a Uint8Array/Buffer. */
export class ErrInvalidChunk extends FastlayerTypeError {
  readonly code = 'ERR_INVALID_CHUNK' as const;
  constructor(chunk: unknown) {
    super(`the layer source yielded ${describe(chunk)}; expected Uint8Array or Buffer chunks`);
    this.name = 'ErrInvalidChunk';
  }
}

/** The Layer source is not one of the supported kinds. */
export class ErrInvalidSource extends FastlayerTypeError {
  readonly code = 'ERR_INVALID_SOURCE' as const;
  constructor(source: unknown, reason?: string) {
    super(
      reason ??
        `the layer source must be a Readable, an AsyncIterable of Uint8Array, a web ReadableStream, ` +
          `a Buffer or a Uint8Array; got ${describe(source)}`,
    );
    this.name = 'ErrInvalidSource';
  }
}

/** An option has the wrong type. */
export class ErrInvalidOption extends FastlayerTypeError {
  readonly code = 'ERR_INVALID_OPTION' as const;
  constructor(name: string, expected: string, value: unknown) {
    super(`option "${name}" must be ${expected}; got ${describe(value)}`);
    this.name = 'ErrInvalidOption';
  }
}

/** An option has the right type but an unsupported value. */
export class ErrOptionRange extends FastlayerRangeError {
  readonly code = 'ERR_OPTION_OUT_OF_RANGE' as const;
  constructor(name: string, expected: string, value: unknown) {
    super(`option "${name}" must be ${expected}; got ${describe(value)}`);
    this.name = 'ErrOptionRange';
  }
}

/** A string is not a valid `algorithm:hex` digest. */
export class ErrInvalidHash extends FastlayerTypeError {
  readonly code = 'ERR_INVALID_HASH' as const;
  constructor(value: unknown, why: string) {
    super(`invalid hash ${describe(value)}: ${why}`);
    this.name = 'ErrInvalidHash';
  }
}

/** The requested engine cannot be used; `cause` holds the load failure when there is one. */
export class ErrEngineUnavailable extends FastlayerError {
  readonly code = 'ERR_ENGINE_UNAVAILABLE' as const;
  constructor(name: string, reason: string, cause?: unknown) {
    super(`the ${name} engine is not available: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'ErrEngineUnavailable';
  }
}

/** An engine was called after finish() or destroy() (a bug in the caller, never user input). */
export class ErrEngineState extends FastlayerError {
  readonly code = 'ERR_ENGINE_STATE' as const;
  constructor(state: 'finished' | 'destroyed') {
    super(`the engine was already ${state}`);
    this.name = 'ErrEngineState';
  }
}

/** A directory could not be turned into a tar stream (file changed while read, unreadable entry...). */
export class ErrTarSource extends FastlayerError {
  readonly code = 'ERR_TAR_SOURCE' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrTarSource';
  }
}

/** Short, safe description of a value for error messages (never dumps big buffers or objects). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string (${value.length} characters)` : `the string ${JSON.stringify(value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default: {
      const ctor = (value as { constructor?: { name?: unknown } }).constructor;
      const name = ctor && typeof ctor.name === 'string' && ctor.name !== '' ? ctor.name : 'Object';
      return `an instance of ${name}`;
    }
  }
}

/** A chunk the layer still had to read was detached (its ArrayBuffer transferred) meanwhile. */
export class ErrChunkDetached extends FastlayerTypeError {
  readonly code = 'ERR_CHUNK_DETACHED' as const;
  constructor() {
    super('a chunk of the layer source was detached (its ArrayBuffer transferred) before the layer had read all of it');
    this.name = 'ErrChunkDetached';
  }
}

/** The option names of an options type, listed once: the type makes the list complete (a key missing is a compile error). */
export function optionKeys<T>(keys: { readonly [K in keyof Required<T>]: true }): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/**
 * Refuses an options object that is not a plain object, or holds a key `known` lacks: a misspelt or
 * misplaced option (`pushImage(img, ref, { tags })`) fails with ERR_INVALID_OPTION naming it instead
 * of being ignored. The value of an unknown key is not shown: it may be a password put at the wrong
 * level. Keys whose value is undefined are refused too (a caller's spelling mistake all the same).
 * `where` prefixes the names (`layers[0].`, `baseOptions.`); `what` names the call.
 */
export function refuseUnknownOptions(options: unknown, known: ReadonlySet<string>, what: string, where = ''): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ErrInvalidOption(where === '' ? 'options' : where.replace(/\.$/, ''), 'an object', options);
  }
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    const err = new ErrInvalidOption(`${where}${key}`, 'absent', undefined);
    err.message = `unknown option "${where}${key}" of ${what} (known: ${[...known].join(', ')}); its value is not shown`;
    throw err;
  }
}

/**
 * The codes of ErrDigestMismatch: ERR_REGISTRY_DIGEST_MISMATCH when a registry sent, stored or refused
 * the bytes (DIGEST_INVALID, SIZE_INVALID, a Docker-Content-Digest that differs), ERR_DIGEST_MISMATCH
 * for every other reader and writer.
 */
export type DigestMismatchCode = 'ERR_DIGEST_MISMATCH' | 'ERR_REGISTRY_DIGEST_MISMATCH';

export interface DigestMismatchInit {
  code?: DigestMismatchCode;
  /** The HTTP status, when a registry's answer said so. */
  status?: number;
  /** The registry's decoded error entries (codes like DIGEST_INVALID). */
  errors?: readonly { code: string; message: string; detail?: unknown }[];
  cause?: unknown;
}

/**
 * Bytes whose digest or size differ from the descriptor that announced them (a blob read from a
 * layout, an archive or a registry, a base's layer, a known blob written anywhere). The one check is
 * src/core/verify.ts. Built from what was expected and what came, or from a message of its own.
 */
export class ErrDigestMismatch extends FastlayerError {
  readonly code: DigestMismatchCode;
  readonly status: number | undefined;
  readonly errors: readonly { code: string; message: string; detail?: unknown }[];
  constructor(expected: string, actual: string, what?: string);
  constructor(message: string, init: DigestMismatchInit);
  constructor(first: string, second: string | DigestMismatchInit, what = 'blob') {
    const init = typeof second === 'object' && second !== null ? second : {};
    super(typeof second === 'string' ? `${what} does not match its descriptor: expected ${first}, got ${second}` : first, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ErrDigestMismatch';
    this.code = init.code ?? 'ERR_DIGEST_MISMATCH';
    this.status = init.status;
    this.errors = Object.freeze([...(init.errors ?? [])]);
  }
}
