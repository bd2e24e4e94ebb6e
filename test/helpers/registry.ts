// A real registry for tests: Debian's docker-registry (CNCF distribution) on 127.0.0.1 with a free
// port, filesystem storage in a temp dir, optionally behind htpasswd Basic auth or a token server
// written here (Bearer JWTs with scopes, signed with a key made for the run). Plus a proxy that can
// inject faults in front of it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { X509Certificate, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import { tempDir } from './tree.js';

export const REGISTRY_BIN = ['/usr/bin/docker-registry', '/usr/bin/registry'].find((p) => existsSync(p));

/** Why registry tests cannot run here, or undefined. */
export function registryMissing(): string | undefined {
  return REGISTRY_BIN === undefined ? 'docker-registry (CNCF distribution) is not installed: apt-get install docker-registry' : undefined;
}

/** The token set-up signs with a key and certificate made by openssl for the run. */
export function tokenSetupMissing(): string | undefined {
  return registryMissing() ?? (spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed (needed to make the token signing certificate)');
}

export function skopeoMissing(): string | undefined {
  return spawnSync('skopeo', ['--version']).status === 0 ? undefined : 'skopeo is not installed: apt-get install skopeo';
}

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Users {
  [user: string]: string;
}

export type AuthSetup =
  | { kind: 'none' }
  | { kind: 'htpasswd'; users: Users }
  | { kind: 'token'; users: Users; /** Users who may only pull. */ readers?: string[]; expiresIn?: number };

export interface RunningRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  port: number;
  storage: string;
  token?: TokenServer;
  /** Kills the registry (SIGKILL: as if it crashed). */
  kill(): Promise<void>;
  /** Starts it again on the same port and storage. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /**
   * With `accessLog: true`, the registry's access log so far: one line per request in the combined
   * log format (`"GET /v2/... HTTP/1.1" 206 50000 ...`), as distribution writes it to stdout.
   */
  accessLog(): string[];
}

export interface RegistryRunOptions {
  /** Turns on distribution's access log (off by default: it only costs time). */
  accessLog?: boolean;
}

export async function startRegistry(auth: AuthSetup = { kind: 'none' }, options: RegistryRunOptions = {}): Promise<RunningRegistry> {
  if (REGISTRY_BIN === undefined) throw new Error(registryMissing());
  const tmp = tempDir('fastlayer-registry-');
  const port = await freePort();
  const storage = join(tmp.path, 'storage');
  let authYaml = '';
  let token: TokenServer | undefined;
  if (auth.kind === 'htpasswd') {
    const file = join(tmp.path, 'htpasswd');
    writeFileSync(file, Object.entries(auth.users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 4)}\n`).join(''));
    authYaml = `auth:\n  htpasswd:\n    realm: fastlayer-test\n    path: ${file}\n`;
  } else if (auth.kind === 'token') {
    token = await startTokenServer(tmp.path, auth.users, new Set(auth.readers ?? []), auth.expiresIn ?? 300);
    authYaml =
      `auth:\n  token:\n    realm: http://127.0.0.1:${token.port}/token\n    service: ${token.service}\n` +
      `    issuer: ${token.issuer}\n    rootcertbundle: ${token.certPath}\n`;
  }
  const config = join(tmp.path, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: ${options.accessLog !== true}\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\n` +
      `http:\n  addr: 127.0.0.1:${port}\n  secret: fastlayer-test-secret\n${authYaml}`,
  );
  let child: ChildProcess | undefined;
  let log = '';
  let access = '';
  const launch = async (): Promise<void> => {
    log = '';
    const c = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', options.accessLog === true ? 'pipe' : 'ignore', 'pipe'] });
    child = c;
    c.stdout?.on('data', (b: Buffer) => {
      access += b.toString();
    });
    c.stderr!.on('data', (b: Buffer) => {
      if (log.length < 20_000) log += b.toString();
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`docker-registry exited with ${c.exitCode}: ${log}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v2/`);
        await res.arrayBuffer();
        if (res.status === 200 || res.status === 401) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`docker-registry did not answer on /v2/ within 15 s: ${log}`);
      }
      await sleep(50);
    }
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGKILL');
    await exited;
  };
  await launch();
  return {
    host: `127.0.0.1:${port}`,
    port,
    storage,
    ...(token ? { token } : {}),
    kill,
    restart: launch,
    accessLog: () => access.split('\n').slice(0, -1), // complete lines only
    async stop() {
      await kill();
      await token?.close();
      tmp.remove();
    },
  };
}

export interface TokenServer {
  port: number;
  service: string;
  issuer: string;
  certPath: string;
  /** Every token request: account, scopes asked, whether the Basic credentials were right. */
  requests: { account: string | undefined; scopes: string[]; ok: boolean }[];
  /** How many of the next tokens are issued already expired (the registry must reject them). */
  staleNext: number;
  close(): Promise<void>;
}

/** Issues ES256 JWTs the way distribution's token auth expects them (x5c chain to the root bundle). */
async function startTokenServer(dir: string, users: Users, readers: Set<string>, expiresIn: number): Promise<TokenServer> {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  const gen = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-subj', '/CN=fastlayer-test-token', '-days', '2',
  ]);
  if (gen.status !== 0) throw new Error(`openssl could not make the token key: ${gen.stderr.toString()}`);
  const key = createPrivateKey(readFileSync(keyPath));
  const der = new X509Certificate(readFileSync(certPath)).raw.toString('base64');
  const service = 'fastlayer-test';
  const issuer = 'fastlayer-test-issuer';
  const requests: TokenServer['requests'] = [];
  const state = { staleNext: 0 };
  const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let params = url.searchParams;
    let account: string | undefined;
    let ok = false;
    const header = req.headers.authorization;
    if (req.method === 'POST') {
      // OAuth2 refresh-token grant (docker's identity tokens): `refresh-<user>` stands for that user.
      params = new URLSearchParams((await readBody(req)).toString());
      const refresh = params.get('refresh_token') ?? '';
      account = refresh.replace(/^refresh-/, '');
      ok = params.get('grant_type') === 'refresh_token' && refresh.startsWith('refresh-') && users[account] !== undefined;
      if (!ok) {
        requests.push({ account, scopes: [], ok });
        res.writeHead(401).end();
        return;
      }
    }
    const scopes = params.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      account = decoded.slice(0, colon);
      ok = users[account] !== undefined && users[account] === decoded.slice(colon + 1);
    }
    requests.push({ account, scopes, ok });
    if (header !== undefined && !ok) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
      return;
    }
    const access = scopes.flatMap((s) => {
      const [type, name, actions] = s.split(':');
      if (type !== 'repository' || !name || !actions || !ok) return [];
      const granted = actions.split(',').filter((a) => a === 'pull' || (a === 'push' && !readers.has(account!)));
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    let now = Math.floor(Date.now() / 1000);
    if (state.staleNext > 0) {
      state.staleNext--;
      now -= 3600;
    }
    const head = b64({ typ: 'JWT', alg: 'ES256', x5c: [der] });
    const claims = b64({ iss: issuer, sub: account ?? '', aud: service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomUUID(), access });
    const signature = sign('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    const token = `${head}.${claims}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.method === 'POST' ? { access_token: token, expires_in: expiresIn } : { token, expires_in: expiresIn }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    service,
    issuer,
    certPath,
    requests,
    get staleNext() {
      return state.staleNext;
    },
    set staleNext(n: number) {
      state.staleNext = n;
    },
    close: () => closeServer(server),
  };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** What a proxy hook sees; returning true means the hook answered the request itself. */
export interface ProxyRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request body, when the hook asked for it to be buffered (`buffer` returns true). */
  body?: Buffer;
}

export interface ProxyOptions {
  /** Answers the request itself (return true), or lets it through. */
  intercept?: (r: ProxyRequest) => boolean | Promise<boolean>;
  /** Rewrites the upstream response headers before they are sent on. */
  headers?: (req: IncomingMessage, status: number, headers: Record<string, string | string[] | undefined>) => void;
  /** Maps the incoming path to the upstream one (for Locations that leave /v2). */
  path?: (path: string) => string;
  /** Rewrites a response body chunk (for corrupting blobs). */
  transform?: (req: IncomingMessage, chunk: Buffer) => Buffer;
}

export interface Proxy {
  host: string;
  port: number;
  /** Request body bytes that went through, by method. */
  bytes: Record<string, number>;
  /** Method and path of every request, with whether it carried an Authorization header. */
  log: { method: string; path: string; auth: boolean }[];
  close(): Promise<void>;
}

/** A proxy on 127.0.0.1 in front of `upstreamPort`; the Host header is kept, so Locations point at the proxy. */
export async function startProxy(upstreamPort: number, options: ProxyOptions = {}): Promise<Proxy> {
  const bytes: Record<string, number> = {};
  const log: Proxy['log'] = [];
  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    log.push({ method, path: req.url ?? '', auth: req.headers.authorization !== undefined });
    try {
      if (options.intercept && (await options.intercept({ req, res }))) return;
    } catch (err) {
      res.destroy(err as Error);
      return;
    }
    const up = httpRequest({ host: '127.0.0.1', port: upstreamPort, method, path: options.path ? options.path(req.url ?? '/') : req.url, headers: req.headers }, (upRes) => {
      const headers = { ...upRes.headers };
      options.headers?.(req, upRes.statusCode ?? 502, headers);
      if (options.transform) delete headers['content-length'];
      res.writeHead(upRes.statusCode ?? 502, headers as Record<string, string>);
      upRes.on('data', (c: Buffer) => res.write(options.transform ? options.transform(req, c) : c));
      upRes.on('end', () => res.end());
      upRes.on('error', () => res.destroy());
    });
    up.on('error', () => res.destroy());
    req.on('data', (c: Buffer) => {
      bytes[method] = (bytes[method] ?? 0) + c.length;
      up.write(c);
    });
    req.on('end', () => up.end());
    req.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { host: `127.0.0.1:${port}`, port, bytes, log, close: () => closeServer(server) };
}

/** Reads a whole request body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Forwards one request with the given body and headers to the registry; resolves with its status, headers and body. */
export function forward(
  port: number,
  method: string,
  path: string,
  headers: IncomingMessage['headers'],
  body?: Buffer,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const up = httpRequest({ host: '127.0.0.1', port, method, path, headers }, async (r) => {
      resolve({ status: r.statusCode ?? 0, headers: r.headers, body: await readBody(r) });
    });
    up.on('error', reject);
    up.end(body);
  });
}

export interface RegistryAndProxy {
  readonly registry: RunningRegistry;
  /** A proxy in front of `registry` that counts what passes (bytes per method, a log of requests). */
  readonly proxy: Proxy;
}

/**
 * A registry and a proxy in front of it, started before the calling suite's tests and stopped after
 * them (then `cleanup` runs, for the suite's temporary files). Call it inside describe().
 */
export function registryAndProxy(cleanup?: () => void): RegistryAndProxy {
  const running = {} as { registry: RunningRegistry; proxy: Proxy };
  before(async () => {
    running.registry = await startRegistry();
    running.proxy = await startProxy(running.registry.port);
  });
  after(async () => {
    await running.proxy?.close();
    await running.registry?.stop();
    cleanup?.();
  });
  return running;
}

/** Runs `fn` with a fresh proxy in front of the registry at `port` (its counts start at zero), closed after. */
export async function withProxy<T>(port: number, fn: (proxy: Proxy) => Promise<T>): Promise<T> {
  const proxy = await startProxy(port);
  try {
    return await fn(proxy);
  } finally {
    await proxy.close();
  }
}
