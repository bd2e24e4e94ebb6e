// HTTP to one registry on the runtime's fetch: scheme choice, authentication (auth.ts), retries with
// backoff for requests whose body can be sent again, redirects followed by hand so that a hop to another
// origin (a CDN, a presigned URL) never carries the Authorization header, and error bodies decoded into
// coded errors. Nothing here ever puts a header value or a query string into a message.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Authenticator } from './auth.js';
import { ErrDigestMismatch } from '../core/errors.js';
import {
  ErrRegistry,
  ErrRegistryDenied,
  registryDigestMismatch,
  ErrRegistryNotFound,
  ErrRegistryProtocol,
  ErrRegistryStreamFailed,
  ErrRegistryTimeout,
  ErrRegistryUnauthorized,
  ErrRegistryUnavailable,
  describeCause,
  inContext,
  redactUrl,
  scrub,
  type RegistryErrorDetail,
  decodeErrors,
} from './errors.js';
import { isLoopback, reachesThisMachine, type Lookup } from './hosts.js';
import { ERROR_BODY_CAP, drain, readBounded } from './body.js';
import { checkNextUrl, originOf, sameOrigin } from './origin.js';
import { resolveTimeouts, timedFetch, type TimeoutOption, type Timeouts } from './timeouts.js';

export { drain, readBounded } from './body.js';

export interface TransportOptions {
  /** Plain http (no TLS) for this registry; loopback hosts use http without it. */
  insecure?: boolean;
  /** Attempts after the first for requests that may be repeated (default 3). */
  retries?: number;
  /** First backoff delay in ms, doubled on each retry (default 200). */
  retryDelay?: number;
  userAgent?: string;
  /** Headers and idle timeouts in ms (default 30000 and 60000); a number sets both. See timeouts.ts. */
  timeout?: TimeoutOption;
  /**
   * Resolves host names for the check that a registry elsewhere never sends requests to this machine
   * or its link (see hosts.ts); default: the system's getaddrinfo, as fetch uses. Tests replace it.
   */
  lookup?: Lookup;
}

/** A request body: bytes (replayable), a factory (replayable: called again per attempt) or a single-use stream. */
export type RequestBody =
  | Uint8Array
  | { readonly replay: () => AsyncIterable<Uint8Array>; readonly length?: number }
  | { readonly once: AsyncIterable<Uint8Array>; readonly length?: number };

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Auth scopes the request needs, e.g. `repository:app:pull,push`. */
  scopes: readonly string[];
  /** False for POSTs that open upload sessions twice if repeated (default: true unless POST or single-use body). */
  idempotent?: boolean;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 10;

export class Transport {
  readonly host: string;
  readonly base: URL;
  readonly insecure: boolean;
  readonly auth: Authenticator;
  readonly #retries: number;
  readonly #delay: number;
  readonly #userAgent: string;
  readonly #timeouts: Timeouts;
  readonly #lookup: Lookup | undefined;

  constructor(host: string, auth: Authenticator, options: TransportOptions = {}) {
    this.host = host;
    this.auth = auth;
    this.insecure = options.insecure === true;
    const scheme = this.insecure || isLoopback(host) ? 'http' : 'https';
    this.base = new URL(`${scheme}://${host}/`);
    this.#retries = options.retries ?? 3;
    this.#delay = options.retryDelay ?? 200;
    this.#userAgent = options.userAgent ?? 'fastlayer';
    this.#timeouts = resolveTimeouts(options.timeout);
    this.#lookup = options.lookup;
  }

  /** `/v2/<path>` on this registry. */
  url(path: string): URL {
    return new URL(`/v2/${path}`, this.base);
  }

  /**
   * Sends a request, answering auth challenges and retrying what may be retried. Resolves with the
   * final response whatever its status (see `request`); rejects on network failure after retries.
   */
  async send(spec: RequestSpec): Promise<Response> {
    const body = spec.body;
    const singleUse = body !== undefined && !(body instanceof Uint8Array) && 'once' in body;
    const repeatable = !singleUse && (spec.idempotent ?? spec.method !== 'POST');
    let attempt = 0;
    // Two rounds: an anonymous first try learns the scheme, a rejected (say, expired) token is replaced once.
    let authRounds = 0;
    for (;;) {
      spec.signal?.throwIfAborted();
      // The authenticator retries its token server itself (timeouts included): its errors are final here.
      const authorization = await this.auth.header(spec.scopes, spec.signal);
      let res: Response;
      let answered: URL;
      try {
        ({ res, url: answered } = await this.#follow(spec, authorization));
      } catch (err) {
        if (spec.signal?.aborted) throw err;
        // A timeout is a dropped connection: retried as one, with the same attempts.
        if (err instanceof ErrRegistryTimeout) {
          if (repeatable && attempt < this.#retries) {
            await this.#backoff(attempt++, spec.signal);
            continue;
          }
          if (singleUse) {
            throw new ErrRegistryStreamFailed(`${err.message} (while streaming a single-use source: it cannot be retried)`, { cause: err });
          }
          throw attempt > 0 ? new ErrRegistryTimeout(`${err.message} (${attempt + 1} attempts)`, { cause: err }) : err;
        }
        if (err instanceof ErrRegistry || err instanceof ErrDigestMismatch) throw err;
        // fetch wraps what the body's source threw (a blob that is not what its descriptor says).
        const cause = (err as { cause?: unknown } | null)?.cause;
        if (cause instanceof ErrRegistry || cause instanceof ErrDigestMismatch) throw cause;
        if (isAbort(err)) throw err;
        if ((cause as { message?: unknown } | undefined)?.message === 'unexpected redirect') {
          throw new ErrRegistryProtocol(`${spec.method} ${redactUrl(spec.url)} answered an upload with a redirect; uploads with a streamed body are not redirected`, { cause: err });
        }
        if (!singleUse && repeatable && attempt < this.#retries) {
          await this.#backoff(attempt++, spec.signal);
          continue;
        }
        const what = `${spec.method} ${redactUrl(spec.url)}`;
        if (singleUse) {
          throw new ErrRegistryStreamFailed(`${what} failed while streaming a single-use source (it cannot be retried): ${describeCause(err)}`, { cause: err });
        }
        throw new ErrRegistryUnavailable(`${what} failed: ${describeCause(err)}`, { cause: err });
      }
      if (res.status === 401 && !sameOrigin(answered, this.base)) {
        // Only the registry's own origin may challenge: a CDN or upload host answering 401 must not make
        // the registry's credentials (or a token for them) go to a realm it names.
        await drain(res);
        throw new ErrRegistryUnauthorized(
          `${spec.method} ${redactUrl(spec.url)}: HTTP 401 unauthorized from ${originOf(answered)}, which is not the registry ${originOf(this.base)}; ` +
            `the registry's credentials are never sent to another origin`,
          { status: 401 },
        );
      }
      if (res.status === 401 && !singleUse && authRounds < 2) {
        const challenge = res.headers.get('www-authenticate');
        await drain(res);
        authRounds++;
        if (challenge !== null && (await this.auth.challenge(challenge, spec.scopes, authorization))) continue;
        throw await errorFor(401, spec, res, challenge === null ? 'no WWW-Authenticate challenge' : authorization !== undefined ? 'the credentials were rejected' : undefined);
      }
      if (repeatable && retryableStatus(res.status) && attempt < this.#retries) {
        await drain(res);
        await this.#backoff(attempt++, spec.signal, res.headers.get('retry-after'));
        continue;
      }
      return res;
    }
  }

  /** Sends and checks: resolves with the response when its status is one of `ok`, else throws the coded error. */
  async request(spec: RequestSpec, ok: readonly number[], what: string): Promise<Response> {
    let res: Response;
    try {
      res = await this.send(spec);
    } catch (err) {
      throw inContext(err, `${what} on ${this.host}`);
    }
    if (ok.includes(res.status)) return res;
    throw await errorFor(res.status, { ...spec, what }, res);
  }

  /** Sends one request, following redirects; resolves with the final response and the URL that answered it. */
  async #follow(spec: RequestSpec, authorization: string | undefined): Promise<{ res: Response; url: URL }> {
    let url = spec.url;
    let method: string = spec.method;
    let body = spec.body;
    for (let hop = 0; ; hop++) {
      // Credentials go to the registry's own origin only (scheme, host and port): not to another host or
      // port a redirect or an upload Location names (a CDN, a presigned URL), nor over plain http to an
      // https registry's host.
      // identity: digests and sizes are of the bytes as stored. fetch asks for gzip and deflate by
      // default, and a compressing proxy that honours that sends a Content-Length of the encoded bytes.
      const headers: Record<string, string> = { 'user-agent': this.#userAgent, 'accept-encoding': 'identity', ...spec.headers };
      if (authorization !== undefined && sameOrigin(url, this.base)) headers.authorization = authorization;
      const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'manual' };
      if (spec.signal) init.signal = spec.signal;
      if (body !== undefined) {
        if (body instanceof Uint8Array) init.body = body;
        else {
          init.body = 'once' in body ? body.once : body.replay();
          init.duplex = 'half';
          // Any mode but 'error' makes fetch clone the request, teeing the body: the unread branch
          // would hold the whole stream in memory. Streamed bodies are never redirected.
          init.redirect = 'error';
        }
      }
      if (url.hostname !== this.base.hostname) await this.#refuseThisMachine(url, method);
      const res = await timedFetch(url, init, this.#timeouts, `${method} ${redactUrl(url)}`);
      if (![301, 302, 303, 307, 308].includes(res.status)) return { res, url };
      const location = res.headers.get('location');
      await drain(res);
      if (location === null) throw new ErrRegistryProtocol(`${method} ${redactUrl(url)}: redirect ${res.status} without a Location`, { status: res.status });
      if (hop >= MAX_REDIRECTS) throw new ErrRegistryProtocol(`${spec.method} ${redactUrl(spec.url)}: more than ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new ErrRegistryProtocol(`${method} ${redactUrl(url)}: redirect ${res.status} to a Location that is not a URL`, { status: res.status });
      }
      next.hash = '';
      checkNextUrl(url, next, this.insecure, 'redirect');
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      } else if (body !== undefined && !(body instanceof Uint8Array) && 'once' in body) {
        throw new ErrRegistryStreamFailed(`${method} ${redactUrl(url)} was redirected with a single-use body`, { status: res.status });
      }
      url = next;
    }
  }

  /**
   * An upload Location or a redirect on another host: checkNextUrl refused this machine by name; here
   * a name that resolves to it (`127.0.0.1.nip.io`, an /etc/hosts alias) is refused too, unless the
   * registry is on this machine as well.
   */
  async #refuseThisMachine(url: URL, method: string): Promise<void> {
    if (!(await reachesThisMachine(url.hostname, this.#lookup))) return;
    if (await reachesThisMachine(this.base.hostname, this.#lookup)) return;
    throw new ErrRegistryProtocol(`${method} ${redactUrl(url)} refused: ${url.hostname} is this machine or its link, and the registry ${this.host} is not`);
  }

  async #backoff(attempt: number, signal: AbortSignal | undefined, retryAfter?: string | null): Promise<void> {
    let ms = this.#delay * 2 ** attempt * (0.75 + Math.random() * 0.5);
    const seconds = retryAfter ? Number(retryAfter) : NaN;
    if (Number.isFinite(seconds) && seconds >= 0) ms = Math.min(Math.max(ms, seconds * 1000), 30_000);
    await sleep(ms, undefined, signal ? { signal } : undefined);
  }
}

function retryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

function isAbort(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'AbortError';
}

/** The coded error for a response with an unexpected status, its `{"errors":[...]}` body decoded. */
export async function errorFor(
  status: number,
  spec: { method: string; url: URL; what?: string },
  res: Response,
  note?: string,
): Promise<ErrRegistry | ErrDigestMismatch> {
  let errors: RegistryErrorDetail[] = [];
  try {
    const text = (await readBounded(res, ERROR_BODY_CAP, 'error body')).toString('utf8');
    errors = decodeErrors(text);
  } catch {
    // An unreadable error body still leaves the status to report.
  }
  const codes = errors.map((e) => e.code);
  const summary = errors.length
    ? `: ${errors.map((e) => `${e.code}${e.message ? ` (${scrub(e.message).slice(0, 200)})` : ''}`).join(', ')}`
    : '';
  // The status's meaning in words, so that a login problem reads as one (docs/CLI.md promises "unauthorized").
  const word = status === 401 ? ' unauthorized' : status === 403 ? ' denied' : '';
  const message = `${spec.what ?? `${spec.method} ${redactUrl(spec.url)}`}: HTTP ${status}${word}${summary}${note ? ` (${note})` : ''}`;
  const init = { status, errors };
  if (codes.includes('DIGEST_INVALID') || codes.includes('SIZE_INVALID')) return registryDigestMismatch(message, init);
  // A token without the scope asked for is a refusal, not a login problem.
  if (status === 401 && /error="?insufficient_scope/i.test(res.headers.get('www-authenticate') ?? '')) return new ErrRegistryDenied(message, init);
  if (status === 401) return new ErrRegistryUnauthorized(message, init);
  if (status === 403 || codes.includes('DENIED')) return new ErrRegistryDenied(message, init);
  if (status === 404) return new ErrRegistryNotFound(message, init);
  if (status >= 500 || status === 429 || status === 408) return new ErrRegistryUnavailable(message, init);
  return new ErrRegistryProtocol(message, init);
}
