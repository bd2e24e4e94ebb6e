// Credentials stay with the registry's origin (scheme, host, port): a redirect target or an upload
// Location on another origin gets no Authorization header, a 401 from such an origin never makes the
// client authenticate anywhere, URLs that step down to plain http or carry user-info are refused, and
// the errors on the way name the registry and the blob without any secret. Every server here is a small
// hand-written one on 127.0.0.x (127.0.0.2 and up play "another host"); nothing leaves loopback.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Layer } from '../../src/layer/layer.js';
import { connect, pullScope } from '../../src/registry/client.js';
import { resolveCredentials } from '../../src/registry/credentials.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import type { ErrRegistry } from '../../src/registry/errors.js';
import { checkNextUrl, originOf, sameOrigin } from '../../src/registry/origin.js';
import { pull } from '../../src/registry/pull.js';
import { location } from '../../src/registry/upload.js';
import { collect } from '../helpers/layer.js';
import { bufferBlob, configFor, digestOf, manifestFor, streaming } from '../helpers/registry-image.js';

const USER = 'alice';
const PASSWORD = 'Origin-Test-P4ss-77c1';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const TOKEN = 'registry-token-5b0e9d';
const credentials = { username: USER, password: PASSWORD };
const LAYER = 'application/vnd.oci.image.layer.v1.tar';

interface Hit {
  method: string;
  path: string;
  auth: string | undefined;
}

interface Fake {
  /** `127.0.0.x:port` */
  readonly host: string;
  readonly port: number;
  readonly hits: Hit[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function fake(address: string, handler: Handler): Promise<Fake> {
  const hits: Hit[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    hits.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization });
    try {
      await handler(req, res, Buffer.concat(chunks));
    } catch {
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: `${address}:${port}`,
    port,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A registry demanding Basic credentials; `routes` answers the authenticated requests. */
function basicRegistry(address: string, routes: Handler): Promise<Fake> {
  return fake(address, (req, res, body) => {
    if (req.headers.authorization !== BASIC) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    return routes(req, res, body);
  });
}

/** A token server that gives TOKEN for the right Basic credentials. */
function tokenServer(address: string): Promise<Fake> {
  return fake(address, (req, res) => {
    if (req.headers.authorization !== BASIC) return void res.writeHead(401).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: TOKEN, expires_in: 300 }));
  });
}

/** A host that challenges for a token at `realm`: the hostile CDN of issue 19. */
function challenger(address: string, realm: () => string): Promise<Fake> {
  return fake(address, (_req, res) => {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="cdn",scope="x"` }).end();
  });
}

function getBlob(host: string, digest: string, options: Record<string, unknown> = { credentials }) {
  const repo = connect(`${host}/app`, { retryDelay: 1, ...options });
  const url = repo.transport.url(`app/blobs/${digest}`);
  return repo.transport.request({ method: 'GET', url, scopes: [pullScope('app')] }, [200], `getting blob ${digest}`);
}

function assertNoSecret(err: unknown): void {
  const text = `${String((err as Error).message)} ${JSON.stringify(err)}`;
  for (const secret of [PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), TOKEN]) assert.ok(!text.includes(secret), `no secret in: ${text}`);
}

const DIGEST = digestOf(Buffer.from('blob'));

describe('origin rules', () => {
  it('an origin is scheme, host and port; default ports and host case are normalised', () => {
    assert.ok(sameOrigin(new URL('https://r.example/v2/'), new URL('https://R.EXAMPLE:443/other?x=1')));
    assert.ok(sameOrigin(new URL('http://r.example:80/'), new URL('http://r.example/')));
    assert.ok(!sameOrigin(new URL('https://r.example/'), new URL('http://r.example/')), 'the scheme counts');
    assert.ok(!sameOrigin(new URL('http://r.example:5000/'), new URL('http://r.example:5001/')), 'the port counts');
    assert.ok(!sameOrigin(new URL('https://r.example/'), new URL('https://cdn.r.example/')), 'a subdomain is another origin');
    assert.ok(!sameOrigin(new URL('https://r.example/'), new URL('https://r.example:8443/')));
    assert.equal(originOf(new URL('https://user:pw@r.example:443/p?q#f')), 'https://r.example');
  });

  it('a next URL is refused when it steps down from https to http (unless insecure), carries user-info, is not http(s), or leads from elsewhere to loopback', () => {
    const from = new URL('https://r.example/v2/app/blobs/uploads/');
    const refused = (next: string, insecure = false) =>
      assert.throws(() => checkNextUrl(from, new URL(next, from), insecure, 'redirect'), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL');
        assert.ok(!(err as Error).message.includes('s3cret'), (err as Error).message);
        return true;
      });
    refused('http://r.example/v2/app/blobs/uploads/1');
    refused('http://r.example:443/v2/');
    refused('http://cdn.example/blob');
    refused('https://user:s3cret@r.example/v2/app/blobs/uploads/1');
    refused('//user:s3cret@cdn.example/x');
    refused('https://:s3cret@r.example/x');
    for (const scheme of ['ftp://r.example/x', 'file:///etc/passwd', 'data:text/plain,x', 'javascript:alert(1)', 'ws://r.example/']) refused(scheme);
    assert.equal(checkNextUrl(from, new URL('http://r.example/v2/'), true, 'redirect').href, 'http://r.example/v2/', 'insecure allows http');
    assert.equal(checkNextUrl(new URL('http://r.example/'), new URL('https://r.example/v2/'), false, 'redirect').protocol, 'https:');
    // A registry elsewhere never sends the client to this machine's services, by any scheme.
    for (const local of ['http://127.0.0.1:5000/x', 'https://localhost:8443/x', 'http://[::1]:2375/containers/create', 'http://127.9.9.9/']) {
      refused(local);
      refused(local, true);
    }
    // A loopback registry (a port-forward) may send it to another loopback port, plain http included.
    const local = new URL('https://127.0.0.1:5000/v2/app/blobs/x');
    assert.equal(checkNextUrl(local, new URL('http://127.0.0.1:5001/x'), false, 'redirect').host, '127.0.0.1:5001', 'loopback to loopback');
    assert.equal(checkNextUrl(local, new URL('https://cdn.example/x'), false, 'redirect').host, 'cdn.example', 'loopback to elsewhere');
  });

  it('an upload Location may be relative, scheme-relative or on another host, but never an https to http step or user-info', () => {
    const req = new URL('https://r.example/v2/app/blobs/uploads/');
    const at = (value: string, insecure = false) => location(new Response(null, { status: 202, headers: { location: value } }), req, insecure);
    assert.equal(at('/v2/app/blobs/uploads/1?_state=s').href, 'https://r.example/v2/app/blobs/uploads/1?_state=s');
    assert.equal(at('//uploads.example/u/1').href, 'https://uploads.example/u/1', 'scheme-relative keeps https');
    assert.ok(!sameOrigin(at('//uploads.example/u/1'), req));
    assert.ok(!sameOrigin(at('https://r.example:8443/u/1'), req));
    for (const bad of ['http://r.example/v2/app/blobs/uploads/1', 'http://uploads.example/u', 'https://alice:s3cret@r.example/v2/x', 'file:///tmp/x']) {
      assert.throws(() => at(bad), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL');
        assert.ok(!(err as Error).message.includes('s3cret'));
        return true;
      });
    }
    assert.equal(at('http://r.example/v2/x', true).protocol, 'http:', 'an insecure registry may use http');
  });

  it('Docker config credentials are keyed by host and port: those of host:5000 never go to host:5001', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fastlayer-origins-'));
    try {
      const auth = (u: string) => ({ auth: Buffer.from(`${u}:${PASSWORD}`).toString('base64') });
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'reg.example:5000': auth('five'), 'https://other.example:7000/v2/': auth('seven') } }));
      assert.equal((await resolveCredentials('reg.example:5000', { dockerConfig: dir }))?.username, 'five');
      assert.equal(await resolveCredentials('reg.example:5001', { dockerConfig: dir }), undefined);
      assert.equal(await resolveCredentials('reg.example', { dockerConfig: dir }), undefined);
      assert.equal((await resolveCredentials('other.example:7000', { dockerConfig: dir }))?.username, 'seven');
      assert.equal(await resolveCredentials('other.example', { dockerConfig: dir }), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a 401 from another origin never triggers authentication', () => {
  // The blob GET is redirected; where to is the variant.
  async function redirected(target: (cdn: Fake) => string, cdnAddress: string, options?: Record<string, unknown>, anonymousRegistry = false) {
    const evil = await tokenServer('127.0.0.3');
    const cdn = await challenger(cdnAddress, () => `http://${evil.host}/token`);
    const routes: Handler = (_req, res) => void res.writeHead(307, { location: target(cdn) }).end();
    const registry = anonymousRegistry ? await fake('127.0.0.1', routes) : await basicRegistry('127.0.0.1', routes);
    try {
      await assert.rejects(getBlob(registry.host, DIGEST, options), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED', (err as Error).message);
        assert.match((err as Error).message, /unauthorized/);
        assertNoSecret(err);
        return true;
      });
      assert.ok(cdn.hits.length >= 1, 'the redirect was followed');
      assert.deepEqual(evil.hits, [], 'nothing reached the realm the other origin named');
      assert.ok(cdn.hits.every((h) => h.auth === undefined), 'no Authorization reached the other origin');
      assert.ok(registry.hits.every((h) => h.auth === undefined || h.auth === BASIC), 'the registry only ever saw its own credentials');
    } finally {
      await Promise.all([evil.close(), cdn.close(), registry.close()]);
    }
  }

  it('a CDN on another host answering 401 Bearer with its own realm: no credentials go to that realm', async () => {
    await redirected((cdn) => `http://${cdn.host}/blob?X-Signature=s`, '127.0.0.2');
  });

  it('same, for a CDN on the same host and another port', async () => {
    await redirected((cdn) => `http://${cdn.host}/blob`, '127.0.0.1');
  });

  it('same, for a scheme-relative Location (//host/path)', async () => {
    await redirected((cdn) => `//${cdn.host}/blob`, '127.0.0.2');
  });

  it('same, when the registry is public (no scheme learnt yet) and the credentials come from options', async () => {
    await redirected((cdn) => `http://${cdn.host}/blob`, '127.0.0.2', { credentials }, true);
  });

  it('a registry -> CDN -> registry chain works: Authorization on the registry hops only', async () => {
    const body = Buffer.from('blob');
    let cdn: Fake | undefined;
    const registry = await basicRegistry('127.0.0.1', (req, res) => {
      if ((req.url ?? '').startsWith('/v2/app/blobs/')) return void res.writeHead(307, { location: `http://${cdn!.host}/hop` }).end();
      res.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    cdn = await fake('127.0.0.2', (_req, res) => void res.writeHead(302, { location: `http://${registry.host}/final/blob` }).end());
    try {
      const res = await getBlob(registry.host, DIGEST);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), body);
      assert.ok(cdn.hits.length === 1 && cdn.hits[0]!.auth === undefined, 'the CDN hop got no Authorization');
      assert.ok(registry.hits.some((h) => h.path === '/final/blob' && h.auth === BASIC), 'back on the registry, its credentials are sent again');
    } finally {
      await Promise.all([cdn.close(), registry.close()]);
    }
  });

  it('a registry`s own realm with user-info is refused (ERR_REGISTRY_PROTOCOL), the realm gets nothing', async () => {
    const realm = await tokenServer('127.0.0.3');
    const registry = await fake('127.0.0.1', (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://mallory:s3cret@${realm.host}/token"` }).end();
    });
    try {
      await assert.rejects(getBlob(registry.host, DIGEST), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL', String(err));
        assert.ok(!(err as Error).message.includes('s3cret'));
        assertNoSecret(err);
        return true;
      });
      assert.deepEqual(realm.hits, []);
    } finally {
      await Promise.all([realm.close(), registry.close()]);
    }
  });

  describe('a Bearer registry with its token server on another origin', () => {
    async function bearerRegistry(cdnLocation: () => string): Promise<{ registry: Fake; realm: Fake }> {
      const realm = await tokenServer('127.0.0.3');
      const registry = await fake('127.0.0.1', (req, res) => {
        if (req.headers.authorization !== `Bearer ${TOKEN}`) {
          return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token",service="registry"` }).end();
        }
        res.writeHead(307, { location: cdnLocation() }).end();
      });
      return { registry, realm };
    }

    it('the registry`s own 401 may name a realm elsewhere; its token never reaches the presigned URL', async () => {
      const body = Buffer.from('presigned');
      const cdn = await fake('127.0.0.2', (_req, res) => void res.writeHead(200, { 'content-length': String(body.length) }).end(body));
      const { registry, realm } = await bearerRegistry(() => `http://${cdn.host}/bucket/blob?X-Amz-Signature=abc`);
      try {
        const res = await getBlob(registry.host, DIGEST);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), body);
        assert.equal(realm.hits.length, 1, 'one token from the registry`s realm');
        assert.equal(realm.hits[0]!.auth, BASIC);
        assert.deepEqual(cdn.hits.map((h) => h.auth), [undefined], 'the presigned URL got no Authorization');
      } finally {
        await Promise.all([cdn.close(), registry.close(), realm.close()]);
      }
    });

    it('a CDN answering 401 with another realm gets neither the token nor the password, and its realm is never asked', async () => {
      const evil = await tokenServer('127.0.0.4');
      const cdn = await challenger('127.0.0.2', () => `http://${evil.host}/token`);
      const { registry, realm } = await bearerRegistry(() => `http://${cdn.host}/blob`);
      try {
        await assert.rejects(getBlob(registry.host, DIGEST), (err: unknown) => {
          assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
          assert.match((err as Error).message, new RegExp(`127\\.0\\.0\\.2:${cdn.port}`));
          assertNoSecret(err);
          return true;
        });
        assert.deepEqual(evil.hits, []);
        assert.ok(cdn.hits.every((h) => h.auth === undefined));
        assert.equal(realm.hits.length, 1, 'the token was not fetched again because of the CDN');
        assert.ok(registry.hits.every((h) => h.auth === undefined || h.auth === `Bearer ${TOKEN}`));
      } finally {
        await Promise.all([evil.close(), cdn.close(), registry.close(), realm.close()]);
      }
    });
  });
});

describe('upload Locations', () => {
  /**
   * A Basic registry whose POST answers with `locate(uploads)`; `uploads` is a second server (another
   * host or port) that takes the PATCH/PUT without asking for credentials.
   */
  async function uploadTo(uploadAddress: string, locate: (uploads: Fake, registry: Fake) => string, uploadsHandler?: Handler) {
    const accept: Handler = (req, res) => {
      if (req.method === 'PUT') return void res.writeHead(201, { 'docker-content-digest': new URL(req.url ?? '', 'http://x').searchParams.get('digest') ?? '' }).end();
      res.writeHead(202, { location: req.url ?? '/', range: '0-0' }).end();
    };
    const uploads = await fake(uploadAddress, uploadsHandler ?? accept);
    let self: Fake | undefined;
    const registry = await basicRegistry('127.0.0.1', (req, res, body) => {
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      if (req.method === 'POST') return void res.writeHead(202, { location: locate(uploads, self!) }).end();
      return accept(req, res, body);
    });
    self = registry;
    return { uploads, registry, close: () => Promise.all([uploads.close(), registry.close()]) };
  }

  const blob = () => bufferBlob(Buffer.from('an upload elsewhere'), LAYER);

  for (const [name, address, locate] of [
    ['another host', '127.0.0.2', (u: Fake) => `http://${u.host}/upload/1?sig=abc`],
    ['the same host on another port', '127.0.0.1', (u: Fake) => `http://${u.host}/v2/app/blobs/uploads/1`],
    ['a scheme-relative Location', '127.0.0.2', (u: Fake) => `//${u.host}/upload/1`],
  ] as const) {
    it(`a Location on ${name} gets the bytes but no Authorization`, async () => {
      const s = await uploadTo(address, locate);
      try {
        await new RegistryDestination(`${s.registry.host}/app:v1`, { credentials, retryDelay: 1 }).writeBlob(blob());
        assert.ok(s.uploads.hits.some((h) => h.method === 'PUT'), 'the upload completed on the other origin');
        assert.ok(s.uploads.hits.every((h) => h.auth === undefined), 'without credentials');
        assert.ok(s.registry.hits.some((h) => h.method === 'POST' && h.auth === BASIC), 'the registry got them');
      } finally {
        await s.close();
      }
    });
  }

  it('a relative Location stays on the registry and keeps its credentials', async () => {
    const s = await uploadTo('127.0.0.2', () => '/v2/app/blobs/uploads/1?_state=x');
    try {
      await new RegistryDestination(`${s.registry.host}/app:v1`, { credentials, retryDelay: 1 }).writeBlob(blob());
      assert.deepEqual(s.uploads.hits, []);
      assert.ok(s.registry.hits.some((h) => h.method === 'PUT' && h.auth === BASIC));
    } finally {
      await s.close();
    }
  });

  it('a Location carrying user-info is refused (ERR_REGISTRY_PROTOCOL) before anything is sent there', async () => {
    for (const locate of [
      (_u: Fake, r: Fake) => `http://mallory:s3cret@${r.host}/v2/app/blobs/uploads/1`,
      (u: Fake) => `http://mallory:s3cret@${u.host}/upload/1`,
      (u: Fake) => `//mallory@${u.host}/upload/1`,
    ]) {
      const s = await uploadTo('127.0.0.2', locate);
      try {
        await assert.rejects(new RegistryDestination(`${s.registry.host}/app:v1`, { credentials, retryDelay: 1 }).writeBlob(blob()), (err: unknown) => {
          assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL', (err as Error).message);
          assert.ok(!(err as Error).message.includes('s3cret'));
          assertNoSecret(err);
          return true;
        });
        assert.deepEqual(s.uploads.hits, []);
        assert.ok(!s.registry.hits.some((h) => h.method === 'PUT'));
      } finally {
        await s.close();
      }
    }
  });

  it('an upload host answering 401 with a realm: ERR_REGISTRY_UNAUTHORIZED, the realm gets nothing', async () => {
    const evil = await tokenServer('127.0.0.3');
    const s = await uploadTo('127.0.0.2', (u) => `http://${u.host}/upload/1`, (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${evil.host}/token"` }).end();
    });
    try {
      await assert.rejects(new RegistryDestination(`${s.registry.host}/app:v1`, { credentials, retryDelay: 1 }).writeBlob(blob()), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
        assertNoSecret(err);
        return true;
      });
      assert.deepEqual(evil.hits, []);
      assert.ok(s.uploads.hits.every((h) => h.auth === undefined));
    } finally {
      await s.close();
      await evil.close();
    }
  });
});

describe('an upload POST answered 201 Created', () => {
  async function created() {
    return basicRegistry('127.0.0.1', (req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      if (req.method === 'POST') return void res.writeHead(201, { location: '/v2/app/blobs/x', 'docker-content-digest': DIGEST }).end();
      res.writeHead(500).end();
    });
  }

  it('is ERR_REGISTRY_PROTOCOL for a known blob, naming the registry', async () => {
    const registry = await created();
    try {
      await assert.rejects(new RegistryDestination(`${registry.host}/app:v1`, { credentials, retryDelay: 1 }).writeBlob(blob201()), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL', String(err));
        assert.equal((err as ErrRegistry).status, 201);
        assert.ok((err as Error).message.includes(registry.host));
        return true;
      });
    } finally {
      await registry.close();
    }
  });

  it('is ERR_REGISTRY_PROTOCOL for a streaming layer', async () => {
    const registry = await created();
    try {
      const layer = new Layer(Buffer.from('streamed '.repeat(1000)), { compressionLevel: 1 });
      await assert.rejects(new RegistryDestination(`${registry.host}/app:v1`, { credentials, retryDelay: 1 }).writeBlob(streaming(layer)), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL', String(err));
        assert.equal((err as ErrRegistry).status, 201);
        return true;
      });
    } finally {
      await registry.close();
    }
  });

  function blob201() {
    return bufferBlob(Buffer.from('created at once'), LAYER);
  }
});

describe('errors name the registry and the blob', () => {
  const layer = Buffer.alloc(200_000, 7);
  const config = configFor([digestOf(layer)]);
  const manifest = manifestFor({ mediaType: 'application/vnd.docker.container.image.v1+json', digest: digestOf(config), size: config.length }, [
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: digestOf(layer), size: layer.length },
  ]);

  /** Serves the image; `cut` names the path whose body stops half-way, the connection destroyed. */
  function image(cut: (path: string) => boolean) {
    return basicRegistry('127.0.0.1', (req, res) => {
      const path = req.url ?? '';
      const bytes = path.includes('/manifests/') ? manifest.bytes : path.endsWith(digestOf(config)) ? config : layer;
      const headers: Record<string, string> = { 'content-length': String(bytes.length) };
      if (path.includes('/manifests/')) Object.assign(headers, { 'content-type': manifest.descriptor.mediaType, 'docker-content-digest': manifest.descriptor.digest });
      res.writeHead(200, headers);
      if (!cut(path)) return void res.end(bytes);
      res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
    });
  }

  it('a connection cut mid-blob is ERR_REGISTRY_UNAVAILABLE saying which registry and blob', async () => {
    const registry = await image((p) => p.endsWith(digestOf(layer)));
    try {
      const pulled = await pull(`${registry.host}/app:v1`, { credentials, retryDelay: 1 });
      await assert.rejects(collect(pulled.layers[0]!.open()), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAVAILABLE', String(err));
        assert.ok((err as Error).message.includes(`${registry.host}/app`), (err as Error).message);
        assert.ok((err as Error).message.includes(digestOf(layer)), (err as Error).message);
        assertNoSecret(err);
        return true;
      });
    } finally {
      await registry.close();
    }
  });

  it('a connection cut mid-manifest is ERR_REGISTRY_UNAVAILABLE saying which registry and manifest', async () => {
    const registry = await image((p) => p.includes('/manifests/'));
    try {
      await assert.rejects(pull(`${registry.host}/app:v1`, { credentials, retryDelay: 1 }), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAVAILABLE', String(err));
        assert.ok((err as Error).message.includes(`${registry.host}/app`), (err as Error).message);
        assert.match((err as Error).message, /manifest v1/);
        return true;
      });
    } finally {
      await registry.close();
    }
  });

  it('a connection cut during a blob upload names the registry and the blob', async () => {
    const bytes = Buffer.from('cut while uploading');
    const registry = await basicRegistry('127.0.0.1', (req, res) => {
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      if (req.method === 'POST') return void res.writeHead(202, { location: '/v2/app/blobs/uploads/1' }).end();
      if (req.method === 'DELETE') return void res.writeHead(204).end();
      req.socket.destroy();
    });
    try {
      const destination = new RegistryDestination(`${registry.host}/app:v1`, { credentials, retryDelay: 1, retries: 0 });
      await assert.rejects(destination.writeBlob(bufferBlob(bytes, LAYER)), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAVAILABLE', String(err));
        assert.ok((err as Error).message.includes(digestOf(bytes)), (err as Error).message);
        assert.ok((err as Error).message.includes(registry.host), (err as Error).message);
        assertNoSecret(err);
        return true;
      });
    } finally {
      await registry.close();
    }
  });

  it('a registry or token server echoing the credentials in its error body cannot put them into messages or JSON', async () => {
    const echo = (req: IncomingMessage, res: ServerResponse, extra: Record<string, string> = {}) => {
      const auth = req.headers.authorization ?? '';
      const said = `you sent ${auth} (${Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()})`;
      res.writeHead(401, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: said, detail: { echoed: said, list: [auth], [auth]: 1 } }] }));
    };
    const realm = await fake('127.0.0.3', (req, res) => echo(req, res));
    const basicEcho = await fake('127.0.0.1', (req, res) => echo(req, res, { 'www-authenticate': 'Basic realm="r"' }));
    const bearerEcho = await fake('127.0.0.1', (req, res) => echo(req, res, { 'www-authenticate': `Bearer realm="http://${realm.host}/token"` }));
    try {
      const seen: string[] = [];
      for (const host of [basicEcho.host, bearerEcho.host]) {
        await assert.rejects(pull(`${host}/app:v1`, { credentials, retryDelay: 1 }), (err: unknown) => {
          assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
          assertNoSecret(err);
          seen.push(JSON.stringify(err));
          return true;
        });
      }
      // The token server's rejection carries its decoded body (message and detail): the echo is masked.
      assert.match(seen[1]!, /you sent Basic <redacted> \(alice:<redacted>\)/);
      assert.match(seen[1]!, /"echoed":"you sent Basic <redacted>/);
    } finally {
      await Promise.all([realm.close(), basicEcho.close(), bearerEcho.close()]);
    }
  });

  it('hazard: a password echoed in an error entry\'s code, or a short password echoed anywhere, never reaches a message or JSON', async () => {
    for (const password of [PASSWORD, 'pw1Q3', 'q7z']) {
      const registry = await fake('127.0.0.1', (req, res) => {
        const auth = req.headers.authorization;
        if (!auth) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
        const sent = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':')[1];
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: `DENIED_${sent}`, message: `bad password ${sent}` }, { code: sent, message: 'x' }, { code: `free text: ${sent}` }] }));
      });
      try {
        await assert.rejects(pull(`${registry.host}/app:v1`, { credentials: { username: USER, password }, retryDelay: 1 }), (err: unknown) => {
          const text = `${String(err)} ${(err as Error).stack} ${inspect(err, { showHidden: true, depth: 9 })} ${JSON.stringify(err)}`;
          assert.ok(!text.includes(password), `${password} in: ${text}`);
          // Codes that are not the spec's shape, or carry a secret, read UNKNOWN.
          assert.deepEqual((err as ErrRegistry).errors?.map((e) => e.code), ['UNKNOWN', 'UNKNOWN', 'UNKNOWN'], text);
          return true;
        });
      } finally {
        await registry.close();
      }
    }
  });

  it('no credentials, or credentials a token server rejects, read "unauthorized" too', async () => {
    const realm = await fake('127.0.0.3', (_req, res) => void res.writeHead(401).end());
    const basic = await basicRegistry('127.0.0.1', (_req, res) => void res.writeHead(500).end());
    const bearer = await fake('127.0.0.1', (_req, res) => void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm.host}/token"` }).end());
    try {
      for (const attempt of [
        () => pull(`${basic.host}/app:v1`, { credentials: null, retryDelay: 1 }),
        () => pull(`${bearer.host}/app:v1`, { credentials: { username: USER, password: `${PASSWORD}-wrong` }, retryDelay: 1 }),
        () => pull(`${bearer.host}/app:v1`, { credentials: null, retryDelay: 1 }),
      ]) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
          assert.match((err as Error).message, /unauthorized/);
          assertNoSecret(err);
          return true;
        });
      }
    } finally {
      await Promise.all([realm.close(), basic.close(), bearer.close()]);
    }
  });

  it('wrong credentials read "unauthorized" and quote no secret, for pulls and pushes', async () => {
    const registry = await basicRegistry('127.0.0.1', (_req, res) => void res.writeHead(500).end());
    const wrong = { username: USER, password: `${PASSWORD}-wrong` };
    try {
      for (const attempt of [
        () => pull(`${registry.host}/app:v1`, { credentials: wrong, retryDelay: 1 }),
        () => new RegistryDestination(`${registry.host}/app:v1`, { credentials: wrong, retryDelay: 1 }).writeBlob(bufferBlob(Buffer.from('x'), LAYER)),
      ]) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
          assert.match((err as Error).message, /unauthorized/);
          assert.ok(!(err as Error).message.includes(wrong.password));
          assertNoSecret(err);
          return true;
        });
      }
    } finally {
      await registry.close();
    }
  });
});

// An https registry and a plain-http listener on the same host and port (a TLS-terminating proxy that
// also speaks http), the first byte of each connection telling them apart. fetch trusts the test CA only
// through NODE_EXTRA_CA_CERTS, read at start-up, so the client runs in a child process. The host is
// [::ffff:127.0.0.1]: loopback to the kernel, but not to fastlayer's plain-http default (hosts.ts), so the
// transport speaks https to it.
const opensslMissing = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed (needed for the test certificate)';

describe('an https registry whose Locations and redirects step down to http on the same host and port', { skip: opensslMissing }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-origins-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const client = join(dir, 'client.mjs');
  const registryDir = fileURLToPath(new URL('../../src/registry/', import.meta.url));
  let mode = '';
  let port = 0;
  const hits: (Hit & { scheme: string })[] = [];
  const same = () => `[::ffff:127.0.0.1]:${port}`;

  const tlsHandler: Handler = (req, res) => {
    if (req.url === '/token' || req.headers.authorization === undefined) {
      if (mode === 'realm') return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${same()}/token",service="r"` }).end();
    }
    if (req.headers.authorization !== BASIC) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
    if (req.method === 'HEAD') return void res.writeHead(404).end();
    if (req.method === 'POST') {
      const to = mode === 'scheme-relative' ? `//${same()}/v2/app/blobs/uploads/1` : mode === 'upload' ? `http://${same()}/v2/app/blobs/uploads/1` : '/v2/app/blobs/uploads/1';
      return void res.writeHead(202, { location: to }).end();
    }
    if (req.method === 'PUT') return void res.writeHead(201).end();
    if (req.method === 'GET') return void res.writeHead(307, { location: `http://${same()}/v2/app/blobs/${DIGEST}` }).end();
    res.writeHead(405).end();
  };
  const plainHandler: Handler = (req, res) => void res.writeHead(req.method === 'PUT' ? 201 : 200, { 'content-type': 'application/json' }).end('{"token":"t"}');

  const record = (scheme: string, h: Handler) => async (req: IncomingMessage, res: ServerResponse) => {
    for await (const _ of req);
    hits.push({ scheme, method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization });
    await h(req, res, Buffer.alloc(0));
  };

  async function start(): Promise<() => Promise<void>> {
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=fastlayer-origins-test', '-addext', 'subjectAltName=IP:::ffff:127.0.0.1']);
    if (gen.status !== 0) throw new Error(`openssl: ${gen.stderr.toString()}`);
    const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, record('https', tlsHandler));
    const plain = createServer(record('http', plainHandler));
    const front = createNetServer((socket) => {
      socket.once('data', (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        // 0x16: a TLS handshake record.
        (first[0] === 0x16 ? tls : plain).emit('connection', socket);
        process.nextTick(() => socket.resume());
      });
    });
    await new Promise<void>((resolve) => front.listen(0, '::', resolve));
    port = (front.address() as { port: number }).port;
    writeFileSync(client, `
      import { Readable } from 'node:stream';
      const { Transport } = await import(${JSON.stringify(join(registryDir, 'transport.js'))});
      const { Authenticator } = await import(${JSON.stringify(join(registryDir, 'auth.js'))});
      const { uploadKnown } = await import(${JSON.stringify(join(registryDir, 'upload.js'))});
      const [host, mode] = process.argv.slice(2);
      const t = new Transport(host, new Authenticator(host, { credentials: ${JSON.stringify(credentials)} }), { retries: 0 });
      const bytes = Buffer.from('over tls');
      const blob = { kind: 'known', descriptor: { mediaType: 'x', digest: ${JSON.stringify(digestOf(Buffer.from('over tls')))}, size: bytes.length }, open: () => Readable.from([bytes]) };
      try {
        if (mode === 'get') await (await t.request({ method: 'GET', url: t.url('app/blobs/x'), scopes: [] }, [200], 'get')).arrayBuffer();
        else await uploadKnown({ transport: t, registry: host, repository: 'app', scopes: ['repository:app:pull,push'] }, blob);
        console.log(JSON.stringify({ ok: t.base.protocol }));
      } catch (e) {
        console.log(JSON.stringify({ code: e.code ?? e.name, message: e.message }));
      }
    `);
    return async () => {
      for (const s of [tls, plain]) s.close();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    };
  }

  /** Runs the client in a child (asynchronously: the servers answer from this process). */
  async function run(m: string): Promise<{ ok?: string; code?: string; message?: string }> {
    mode = m;
    hits.length = 0;
    const child = spawn(process.execPath, [client, same(), m === 'get' ? 'get' : 'upload'], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    await once(child, 'close');
    const line = out.trim().split('\n').pop() ?? '';
    assert.ok(line.startsWith('{'), `client output: ${out} ${err}`);
    return JSON.parse(line) as { ok?: string; code?: string; message?: string };
  }

  it('relative and scheme-relative Locations stay on https with the credentials; an http one on the same host and port is refused before anything goes over plain http', async () => {
    const stop = await start();
    try {
      for (const m of ['relative', 'scheme-relative']) {
        const r = await run(m);
        assert.deepEqual(r, { ok: 'https:' }, `${m}: ${JSON.stringify(r)}`);
        assert.ok(hits.some((h) => h.method === 'PUT' && h.scheme === 'https' && h.auth === BASIC), `${m}: the PUT went over https with the credentials`);
        assert.ok(hits.every((h) => h.scheme === 'https'));
      }
      const r = await run('upload');
      assert.equal(r.code, 'ERR_REGISTRY_PROTOCOL', JSON.stringify(r));
      assert.match(r.message ?? '', /https to plain http/);
      assert.deepEqual(hits.filter((h) => h.scheme === 'http'), [], 'nothing was sent over plain http');
    } finally {
      await stop();
    }
  });

  it('a redirect to http on the same host and port, and an http token realm, are refused; no credentials go over plain http', async () => {
    const stop = await start();
    try {
      for (const m of ['get', 'realm']) {
        const r = await run(m);
        assert.equal(r.code, 'ERR_REGISTRY_PROTOCOL', `${m}: ${JSON.stringify(r)}`);
        assert.ok(!(r.message ?? '').includes(PASSWORD));
        assert.deepEqual(hits.filter((h) => h.scheme === 'http'), [], `${m}: nothing was sent over plain http`);
      }
    } finally {
      await stop();
    }
  });
});
