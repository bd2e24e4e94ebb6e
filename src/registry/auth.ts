// Registry authentication: anonymous until the registry challenges, then Basic or a Bearer token from
// the challenge's realm (one token per scope set, refreshed before it expires and when rejected).
// Credentials come from options or from the Docker config (credentials.ts). Secrets live only in this
// object's private fields and in Authorization headers; no message built here includes them.
import { isLoopback, reachesThisMachine, type Lookup } from './hosts.js';
import { ERROR_BODY_CAP, readBounded, readCapped } from './body.js';
import { resolveTimeouts, timedFetch, type TimeoutOption, type Timeouts } from './timeouts.js';
import { resolveCredentials, type Credentials } from './credentials.js';
import {
  ErrRegistryProtocol,
  ErrRegistryTimeout,
  ErrRegistryUnauthorized,
  ErrRegistryUnavailable,
  decodeErrors,
  describeCause,
  redactUrl,
  rememberSecret,
} from './errors.js';

export interface AuthOptions {
  /** Credentials for this registry; `null` for anonymous only; omitted: read the Docker config. */
  credentials?: Credentials | null;
  /** Directory holding config.json (default `$DOCKER_CONFIG`, else `~/.docker`). */
  dockerConfig?: string;
  /** Bound on a `docker-credential-*` helper run, in ms (default 10000). */
  helperTimeout?: number;
  insecure?: boolean;
  /** Headers and idle timeouts of token requests, as for the registry's own (see timeouts.ts). */
  timeout?: TimeoutOption;
  /** Resolves host names for the token realm's local-address check (see TransportOptions.lookup). */
  lookup?: Lookup;
}

interface Token {
  value: string;
  expires: number;
}

/** Tokens are renewed this long before they expire, so a request never starts with a dying token. */
const EXPIRY_MARGIN_MS = 10_000;
const TOKEN_BODY_CAP = 1024 * 1024;

export class Authenticator {
  /** The registry as references name it (`docker.io`), which is what credential stores are keyed by. */
  readonly registry: string;
  readonly #options: AuthOptions;
  readonly #timeouts: Timeouts;
  #credentials: Promise<Credentials | undefined> | undefined;
  #scheme: 'basic' | 'bearer' | undefined;
  #realm: URL | undefined;
  #service: string | undefined;
  readonly #tokens = new Map<string, Token>();
  readonly #pending = new Map<string, Promise<Token>>();

  constructor(registry: string, options: AuthOptions = {}) {
    this.registry = registry;
    this.#options = options;
    this.#timeouts = resolveTimeouts(options.timeout);
  }

  /** The Authorization header for a request needing `scopes`, or undefined while anonymous. */
  async header(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    if (this.#scheme === 'basic') {
      const c = await this.#creds();
      if (c?.username !== undefined && c.password !== undefined) return basic(c.username, c.password);
      return undefined;
    }
    if (this.#scheme === 'bearer') return `Bearer ${(await this.#token(scopes, signal)).value}`;
    return undefined;
  }

  /**
   * Takes a 401's WWW-Authenticate header; resolves true when a retry can succeed (a scheme learnt,
   * credentials found, a rejected token dropped so a fresh one is fetched).
   */
  async challenge(header: string, scopes: readonly string[], used: string | undefined): Promise<boolean> {
    const parsed = parseChallenge(header);
    if (parsed === undefined) throw new ErrRegistryProtocol(`${this.registry}: unsupported WWW-Authenticate challenge`, { status: 401 });
    if (parsed.scheme === 'basic') {
      this.#scheme = 'basic';
      const c = await this.#creds();
      if (c?.username === undefined || c.password === undefined) {
        throw new ErrRegistryUnauthorized(`${this.registry}: unauthorized: it requires credentials (Basic) and none were found`, { status: 401 });
      }
      // Retry unless these very credentials were refused. Several requests that went out anonymously
      // at once (a copy's HEADs) each get a 401: every one of them retries, not only the first to
      // learn the scheme (the others failed as "credentials rejected" without having sent any).
      return used !== basic(c.username, c.password);
    }
    const realm = parsed.params.realm;
    if (realm === undefined) throw new ErrRegistryProtocol(`${this.registry}: Bearer challenge without a realm`, { status: 401 });
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ErrRegistryProtocol(`${this.registry}: Bearer realm is not a URL`, { status: 401 });
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (this.#options.insecure || isLoopback(url.host)))) {
      throw new ErrRegistryProtocol(`${this.registry}: token realm ${redactUrl(url)} is not https; refusing to send credentials`, { status: 401 });
    }
    // A registry elsewhere naming this machine as its token server would have the credentials sent to
    // a local service (and its answers taken for tokens): only a loopback registry may.
    // By name, or by a name that resolves there (hosts.ts).
    const lookup = this.#options.lookup;
    if ((await reachesThisMachine(url.hostname, lookup)) && !(await reachesThisMachine(this.registry, lookup))) {
      throw new ErrRegistryProtocol(`${this.registry}: token realm ${redactUrl(url)} is on this machine; refusing to send credentials there`, { status: 401 });
    }
    // User-info in the realm would be credentials the registry chose, sent along with ours.
    if (url.username !== '' || url.password !== '') {
      throw new ErrRegistryProtocol(`${this.registry}: token realm ${redactUrl(url)} carries user-info; refusing to send credentials`, { status: 401 });
    }
    this.#scheme = 'bearer';
    this.#realm = url;
    this.#service = parsed.params.service;
    // Only the token that was refused is dropped: a request that went out anonymously while another
    // one fetched a token just retries with it.
    const k = key(scopes);
    if (used !== undefined && used === `Bearer ${this.#tokens.get(k)?.value}`) this.#tokens.delete(k);
    return true;
  }

  /** Forgets every token (after a push, or when credentials changed). */
  reset(): void {
    this.#tokens.clear();
  }

  #creds(): Promise<Credentials | undefined> {
    if (this.#credentials === undefined) {
      const o = this.#options;
      this.#credentials =
        o.credentials === null
          ? Promise.resolve(undefined)
          : o.credentials !== undefined
            ? Promise.resolve(o.credentials)
            : resolveCredentials(this.registry, o);
    }
    return this.#credentials;
  }

  async #token(scopes: readonly string[], signal?: AbortSignal): Promise<Token> {
    const k = key(scopes);
    const cached = this.#tokens.get(k);
    if (cached && cached.expires - EXPIRY_MARGIN_MS > Date.now()) return cached;
    let pending = this.#pending.get(k);
    if (!pending) {
      pending = this.#fetchToken(scopes, signal).finally(() => this.#pending.delete(k));
      this.#pending.set(k, pending);
    }
    const token = await pending;
    this.#tokens.set(k, token);
    return token;
  }

  async #fetchToken(scopes: readonly string[], signal?: AbortSignal): Promise<Token> {
    const realm = this.#realm!;
    const creds = await this.#creds();
    const sorted = [...new Set(scopes)].sort();
    let init: RequestInit;
    const url = new URL(realm);
    if (creds?.identityToken !== undefined) {
      rememberSecret(creds.identityToken);
      // OAuth2 refresh-token grant: what docker does with an identity token from `docker login`.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'fastlayer' });
      if (this.#service !== undefined) form.set('service', this.#service);
      if (sorted.length) form.set('scope', sorted.join(' '));
      init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
    } else {
      if (this.#service !== undefined) url.searchParams.set('service', this.#service);
      for (const s of sorted) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username !== undefined && creds.password !== undefined) {
        url.searchParams.set('account', creds.username);
        headers.authorization = basic(creds.username, creds.password);
      }
      init = { method: 'GET', headers };
    }
    // A token server that redirects could take the credentials elsewhere: redirects are refused
    // (manual, so that the refusal is a protocol error at once, not a network failure retried).
    init.redirect = 'manual';
    if (signal) init.signal = signal;
    let res: Response | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && res === undefined; attempt++) {
      try {
        res = await timedFetch(url, init, this.#timeouts, `token request ${redactUrl(realm)} for ${this.registry}`);
        if (res.status >= 500 && attempt < 2) {
          await res.body?.cancel().catch(() => {});
          res = undefined;
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
        }
      } catch (err) {
        if (signal?.aborted) throw err;
        lastError = err;
      }
    }
    const where = `token server ${redactUrl(realm)} for ${this.registry}`;
    if (res !== undefined && res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => {});
      throw new ErrRegistryProtocol(`${where} answered HTTP ${res.status}, a redirect: refused (credentials go to the token server named by the registry only)`, { status: res.status });
    }
    if (res === undefined) {
      if (lastError instanceof ErrRegistryTimeout) throw new ErrRegistryTimeout(`${lastError.message} (3 attempts)`, { cause: lastError });
      throw new ErrRegistryUnavailable(`${where}: ${describeCause(lastError)}`, { cause: lastError });
    }
    // The 1 MiB bound holds while reading; a refusal's body is only read for its message.
    const text = (res.status === 200 ? await readBounded(res, TOKEN_BODY_CAP, `${where}: the token response`) : await readCapped(res, ERROR_BODY_CAP).catch(() => Buffer.alloc(0))).toString('utf8');
    if (res.status === 401 || res.status === 403) {
      throw new ErrRegistryUnauthorized(`${where} rejected the ${creds ? 'credentials' : 'anonymous request'} (HTTP ${res.status} ${res.status === 401 ? 'unauthorized' : 'forbidden'})`, {
        status: res.status,
        errors: decodeErrors(text),
      });
    }
    if (res.status !== 200) throw new ErrRegistryProtocol(`${where}: HTTP ${res.status}`, { status: res.status, errors: decodeErrors(text) });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ErrRegistryProtocol(`${where}: the token response is not JSON`, { status: 200 });
    }
    const value = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
    if (!value || !/^[\x21-\x7e]+$/.test(value)) throw new ErrRegistryProtocol(`${where}: the token response holds no usable token`);
    rememberSecret(value);
    // The spec's default lifetime is 60 s, and shorter lifetimes are read as 60 s.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 60 ? body.expires_in : 60;
    const issued = typeof body.issued_at === 'string' ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) && issued <= Date.now() ? issued : Date.now();
    return { value, expires: start + lifetime * 1000 };
  }
}

/** The Basic header value; the password and the header are remembered for `scrub` (errors.ts). */
function basic(username: string, password: string): string {
  const encoded = Buffer.from(`${username}:${password}`).toString('base64');
  rememberSecret(password);
  rememberSecret(encoded);
  return `Basic ${encoded}`;
}

function key(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted or token values). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2]!;
  re.lastIndex = 0;
  while (re.lastIndex < rest.length) {
    const p = re.exec(rest);
    if (!p) break;
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme, params };
}
