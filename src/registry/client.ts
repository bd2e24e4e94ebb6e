// One registry repository to talk to: the reference, its transport and the scopes its requests need.
import { ErrInvalidOption, ErrOptionRange, optionKeys } from '../core/errors.js';
import { Reference } from '../image/reference.js';
import { Authenticator, type AuthOptions } from './auth.js';
import { Transport, type TransportOptions } from './transport.js';

// `lookup` is for tests of the local-address check (hosts.ts), not an option of the public calls.
export interface RegistryOptions extends Omit<TransportOptions, 'lookup'>, Omit<AuthOptions, 'lookup'> {
  /** Cancels every request of the operation. */
  signal?: AbortSignal;
}

/** RegistryOptions' names: each call that takes them adds its own (destination.ts, pull.ts, push.ts). */
export const REGISTRY_OPTION_KEYS = optionKeys<RegistryOptions>({
  signal: true, insecure: true, retries: true, retryDelay: true, userAgent: true, timeout: true,
  credentials: true, dockerConfig: true, helperTimeout: true,
});

export interface Repository {
  readonly reference: Reference;
  readonly transport: Transport;
  readonly registry: string;
  readonly repository: string;
}

export function toReference(ref: string | Reference): Reference {
  return ref instanceof Reference ? ref : Reference.parse(ref);
}

/**
 * The types of RegistryOptions, checked before any request: `insecure: 'no'` must not mean plain
 * http, nor `retries: '3'` string arithmetic, nor a user agent with a line break a second header.
 * (`timeout` is resolveTimeouts' to check.) A bad `credentials` is named without its value: it holds a password.
 */
export function checkRegistryOptions(o: RegistryOptions): void {
  if (typeof o !== 'object' || o === null) throw new ErrInvalidOption('options', 'an object', o);
  const s = o.signal as Partial<AbortSignal> | undefined;
  if (s !== undefined && (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function')) {
    throw new ErrInvalidOption('signal', 'an AbortSignal', s);
  }
  if (o.insecure !== undefined && typeof o.insecure !== 'boolean') throw new ErrInvalidOption('insecure', 'a boolean', o.insecure);
  const integer = (name: string, value: unknown, max: number) => {
    if (value === undefined) return;
    if (typeof value !== 'number') throw new ErrInvalidOption(name, 'a number', value);
    if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new ErrOptionRange(name, `an integer from 0 to ${max}`, value);
  };
  integer('retries', o.retries, 100);
  integer('retryDelay', o.retryDelay, 600_000);
  integer('helperTimeout', o.helperTimeout, 600_000);
  if (o.userAgent !== undefined) {
    if (typeof o.userAgent !== 'string') throw new ErrInvalidOption('userAgent', 'a string', o.userAgent);
    if (!/^[\x20-\x7e]+$/.test(o.userAgent)) throw new ErrOptionRange('userAgent', 'printable ASCII without line breaks', o.userAgent);
  }
  if (o.dockerConfig !== undefined && (typeof o.dockerConfig !== 'string' || o.dockerConfig === '')) throw new ErrInvalidOption('dockerConfig', 'a directory path', o.dockerConfig);
  if (o.credentials !== undefined && o.credentials !== null && (typeof o.credentials !== 'object' || Array.isArray(o.credentials))) {
    const err = new ErrInvalidOption('credentials', 'an object', undefined);
    err.message = 'option "credentials" must be an object { username, password } or { identityToken }, or null; its value is not shown';
    throw err;
  }
}

/** A transport for `ref`'s registry; transports are not shared, so neither are tokens. */
export function connect(ref: string | Reference, options: RegistryOptions = {}): Repository {
  checkRegistryOptions(options);
  const reference = toReference(ref);
  const auth = new Authenticator(reference.registry, options);
  const transport = new Transport(reference.apiHost, auth, options);
  return { reference, transport, registry: reference.registry, repository: reference.repository };
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/** The caller's signal and the per-call one, as one. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}
