// One registry repository to talk to: the reference, its transport and the scopes its requests need.
import { optionKeys } from '../errors.js';
import { Reference } from '../image/reference.js';
import { Authenticator, type AuthOptions } from './auth.js';
import { Transport, type TransportOptions } from './transport.js';

export interface RegistryOptions extends TransportOptions, AuthOptions {
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

/** A transport for `ref`'s registry; transports are not shared, so neither are tokens. */
export function connect(ref: string | Reference, options: RegistryOptions = {}): Repository {
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
