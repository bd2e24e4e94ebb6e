// Errors of registry operations. Every message is built from redacted parts only: a URL loses its
// user-info and query (presigned URLs carry signatures there), and no header value is ever quoted, so
// credentials and tokens cannot reach logs, errors or JSON output.
import { ErrDigestMismatch, FastlayerError, FastlayerTypeError } from '../core/errors.js';

export type RegistryErrorCode =
  | 'ERR_REGISTRY_UNAUTHORIZED'
  | 'ERR_REGISTRY_DENIED'
  | 'ERR_REGISTRY_NOT_FOUND'
  | 'ERR_REGISTRY_PROTOCOL'
  | 'ERR_REGISTRY_UNAVAILABLE'
  | 'ERR_REGISTRY_STREAM_FAILED'
  | 'ERR_REGISTRY_TIMEOUT'
  | 'ERR_REGISTRY_CREDENTIALS'
  | 'ERR_REGISTRY_TAGS_INCOMPLETE';

/** One entry of a registry's `{"errors":[...]}` body (OCI distribution spec error codes). */
export interface RegistryErrorDetail {
  code: string;
  message: string;
  detail?: unknown;
}

export interface RegistryErrorInit {
  status?: number;
  errors?: RegistryErrorDetail[];
  cause?: unknown;
}

/** Base class: `code` is stable, `status` is the HTTP status when there was one. */
export class ErrRegistry extends FastlayerError {
  readonly code: RegistryErrorCode;
  readonly status: number | undefined;
  /** The registry's decoded error entries (codes like BLOB_UNKNOWN, DENIED, DIGEST_INVALID). */
  readonly errors: readonly RegistryErrorDetail[];

  constructor(code: RegistryErrorCode, message: string, init: RegistryErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ErrRegistry';
    this.code = code;
    this.status = init.status;
    this.errors = Object.freeze([...(init.errors ?? [])]);
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, status: this.status, errors: this.errors };
  }
}

/** 401 with no usable credentials, or credentials the registry rejected. */
export class ErrRegistryUnauthorized extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_UNAUTHORIZED', message, init);
    this.name = 'ErrRegistryUnauthorized';
  }
}

/** 403, or a token that does not grant the scope asked for. */
export class ErrRegistryDenied extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_DENIED', message, init);
    this.name = 'ErrRegistryDenied';
  }
}

/** 404: the repository, manifest, tag or blob does not exist. */
export class ErrRegistryNotFound extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_NOT_FOUND', message, init);
    this.name = 'ErrRegistryNotFound';
  }
}

/**
 * @deprecated The same class as ErrDigestMismatch (src/core/errors.ts), kept so that `instanceof
 * ErrRegistryDigestMismatch` still holds: bytes that are not what their descriptor, reference or the
 * registry says are an ErrDigestMismatch, with code ERR_REGISTRY_DIGEST_MISMATCH when a registry is
 * involved (registryDigestMismatch). Not an ErrRegistry.
 */
export const ErrRegistryDigestMismatch = ErrDigestMismatch;
/** @deprecated ErrDigestMismatch. */
export type ErrRegistryDigestMismatch = ErrDigestMismatch;

/** ErrDigestMismatch with code ERR_REGISTRY_DIGEST_MISMATCH, in the registry code's own words. */
export function registryDigestMismatch(message: string, init: RegistryErrorInit = {}): ErrDigestMismatch {
  return new ErrDigestMismatch(message, { ...init, code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
}

/** The registry answered something the distribution API does not allow (status, header, body). */
export class ErrRegistryProtocol extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_PROTOCOL', message, init);
    this.name = 'ErrRegistryProtocol';
  }
}

/** Network failure or 5xx/429 that retries did not get past. */
export class ErrRegistryUnavailable extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_UNAVAILABLE', message, init);
    this.name = 'ErrRegistryUnavailable';
  }
}

/**
 * The registry (or its token server, or a redirect target) sent no response headers within the headers
 * timeout, or moved no body byte in either direction within the idle timeout. Retried like a dropped
 * connection; this is the error once the attempts are spent.
 */
export class ErrRegistryTimeout extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_TIMEOUT', message, init);
    this.name = 'ErrRegistryTimeout';
  }
}

/** A streaming upload failed after its single-use source started flowing: it cannot be retried. */
export class ErrRegistryStreamFailed extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_STREAM_FAILED', message, init);
    this.name = 'ErrRegistryStreamFailed';
  }
}

/** Credentials could not be read (docker config unreadable, credential helper failed or timed out). */
export class ErrRegistryCredentials extends ErrRegistry {
  constructor(message: string, init?: RegistryErrorInit) {
    super('ERR_REGISTRY_CREDENTIALS', message, init);
    this.name = 'ErrRegistryCredentials';
  }
}

/**
 * A push wrote some of its tags, then one tag's manifest PUT failed. The image is complete (every blob
 * and manifest was in before the first tag), so the tags in `tagged` are valid; `failed` and those after
 * it were not written. `status` and `errors` are the failed request's, `cause` its error.
 */
export class ErrRegistryTagsIncomplete extends ErrRegistry {
  /** Fully qualified names tagged before the failure. */
  readonly tagged: readonly string[];
  /** The fully qualified name whose tag failed. */
  readonly failed: string;
  constructor(tagged: readonly string[], failed: string, cause: unknown) {
    const init = cause instanceof ErrRegistry || cause instanceof ErrDigestMismatch ? { status: cause.status, errors: [...cause.errors], cause } : { cause };
    super('ERR_REGISTRY_TAGS_INCOMPLETE', `tagged ${tagged.join(', ')}, then tagging ${failed} failed: ${cause instanceof Error ? cause.message : String(cause)}`, init);
    this.name = 'ErrRegistryTagsIncomplete';
    this.tagged = Object.freeze([...tagged]);
    this.failed = failed;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), tagged: this.tagged, failed: this.failed };
  }
}

/**
 * A name to tag that is not in the repository being pushed to (or pins a digest, which a tag cannot):
 * a push writes one repository, so the name is refused before anything is written instead of being
 * dropped while the push reports success. An argument error, hence a TypeError like ErrInvalidReference.
 */
export class ErrTagRepository extends FastlayerTypeError {
  readonly code = 'ERR_TAG_REPOSITORY' as const;
  /** The name as the caller gave it. */
  readonly tagName: string;
  constructor(name: string, reason: string) {
    super(`cannot tag "${name}": ${reason}`);
    this.name = 'ErrTagRepository';
    this.tagName = name;
  }
}

/**
 * A network failure (`ERR_REGISTRY_UNAVAILABLE`, `ERR_REGISTRY_STREAM_FAILED`) with what was being done
 * put in front (`getting blob sha256:... from app`): the bare cause ("terminated", "other side closed")
 * says neither which blob nor which step. Other errors already carry it and are returned as they are.
 */
export function inContext(err: unknown, what: string): unknown {
  if (!(err instanceof ErrRegistryUnavailable) && !(err instanceof ErrRegistryStreamFailed)) return err;
  const init = { status: err.status, errors: [...err.errors], cause: err.cause ?? err };
  const message = `${what}: ${err.message}`;
  return err instanceof ErrRegistryUnavailable ? new ErrRegistryUnavailable(message, init) : new ErrRegistryStreamFailed(message, init);
}

/** A URL as it may appear in a message: no user-info, no query, no fragment. */
export function redactUrl(url: URL | string): string {
  try {
    const u = new URL(String(url));
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '<invalid url>';
  }
}

/** A short, printable, redacted summary of a network error (its message can hold the URL). */
export function describeCause(cause: unknown): string {
  const e = cause as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  const inner = e?.cause && typeof e.cause === 'object' ? e.cause : undefined;
  const code = typeof inner?.code === 'string' ? inner.code : typeof e?.code === 'string' ? e.code : undefined;
  const msg = typeof inner?.message === 'string' ? inner.message : typeof e?.message === 'string' ? e.message : String(cause);
  return scrub(code ? `${code}: ${msg}` : msg).slice(0, 300);
}

/**
 * The secrets this process has sent (passwords, their Basic forms, identity and registry tokens), so
 * that a server echoing them in an error body cannot put them into a message or `--json` output. Only
 * values of one or two characters are not kept: masking them would cut every word apart, and such a
 * password is no secret anyway. Three characters and more are masked wherever they appear, even
 * inside other words (a short password then makes some messages harder to read, never leaks). The
 * set is bounded, oldest dropped first.
 */
const secrets = new Set<string>();
const MAX_SECRETS = 256;
const MIN_SECRET = 3;

export function rememberSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_SECRET || secrets.has(value)) return;
  if (secrets.size >= MAX_SECRETS) secrets.delete(secrets.values().next().value!);
  secrets.add(value);
}

/** Removes anything URL-like with credentials or a query, and any secret in use, from free text. */
export function scrub(text: string): string {
  let out = text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (m) => redactUrl(m));
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('<redacted>');
  return out;
}

/** `scrub` on every string of a decoded JSON value (an error entry's `detail`). */
function scrubJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object' || depth > 8) return typeof value === 'object' && value !== null ? '<nested>' : value;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => scrubJson(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, 100)) out[scrub(k)] = scrubJson(v, depth + 1);
  return out;
}

/**
 * An error entry's `code` as the distribution spec spells codes (BLOB_UNKNOWN, DENIED: letters,
 * digits, `_`, `.`, `-`, at most 64), else UNKNOWN. The code is shown as it is (in messages, in
 * `errors[].code`, in `--json`), so free text there, or a secret the server echoed in it, is
 * never repeated.
 */
function errorCode(code: unknown): string {
  if (typeof code !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(code)) return 'UNKNOWN';
  return scrub(code) === code ? code : 'UNKNOWN';
}

export function decodeErrors(text: string): RegistryErrorDetail[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const list = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return [];
  const out: RegistryErrorDetail[] = [];
  for (const e of list.slice(0, 20)) {
    if (e === null || typeof e !== 'object') continue;
    const { code, message, detail } = e as Record<string, unknown>;
    out.push({
      code: errorCode(code),
      message: typeof message === 'string' ? scrub(message).slice(0, 500) : '',
      ...(detail === undefined ? {} : { detail: scrubJson(detail) }),
    });
  }
  return out;
}
