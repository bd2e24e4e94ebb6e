// What sits between the client and a registry: a proxy or CDN that compresses responses, and a token
// server that answers with a redirect. Hazards: a correct blob refused because the Content-Length was
// of the encoded bytes; a redirect of the token request retried as a network failure instead of
// refused at once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pull, pullToDestination } from '../../src/registry/pull.js';
import { OciLayout } from '../../src/layout/layout.js';
import { tempDir } from '../helpers/tree.js';
import { testServers } from '../helpers/http-servers.js';

const { http: serve } = testServers();

const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** One image whose 200 KB layer compresses well, so an encoding proxy changes its length a lot. */
function image() {
  const layer = Buffer.alloc(200_000, 'layer bytes ');
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest(layer)] }, config: {} }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(layer), size: layer.length }],
  }));
  return { layer, config, manifest, blobs: new Map([[digest(layer), layer], [digest(config), config]]) };
}

describe('a proxy that compresses responses', () => {
  // always: it gzips whatever the client asks for (Content-Length of the encoded bytes);
  // honours: it gzips only when the client asks for gzip, as fetch does by default.
  for (const mode of ['honours', 'always'] as const) {
    it(`hazard: blobs and manifests still pull whole and verified when it ${mode === 'always' ? 'always compresses' : 'compresses on request'}`, async () => {
      const img = image();
      const asked: string[] = [];
      const host = await serve((req, res) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        const body = path.startsWith('/v2/app/manifests/') ? img.manifest : img.blobs.get(path.replace('/v2/app/blobs/', ''));
        if (body === undefined) return void res.writeHead(404).end();
        const type = body === img.manifest ? 'application/vnd.oci.image.manifest.v1+json' : 'application/octet-stream';
        asked.push(String(req.headers['accept-encoding']));
        if (mode === 'always' || /gzip/.test(String(req.headers['accept-encoding']))) {
          const z = gzipSync(body);
          return void res.writeHead(200, { 'content-type': type, 'content-encoding': 'gzip', 'content-length': z.length }).end(req.method === 'HEAD' ? undefined : z);
        }
        res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
      });
      const tmp = tempDir();
      try {
        const dir = join(tmp.path, 'out');
        const m = await pullToDestination(`${host}/app:1`, new OciLayout(dir), { platform: 'linux/amd64', credentials: null, retryDelay: 1 });
        assert.equal(m.descriptor.digest, digest(img.manifest));
        const pulled = await pull(`${host}/app:1`, { platform: 'linux/amd64', credentials: null, retryDelay: 1 });
        assert.equal(pulled.manifest.descriptor.digest, digest(img.manifest));
        // The client asks for the bytes as stored.
        assert.ok(asked.length > 0 && asked.every((a) => a === 'identity'), asked.join(', '));
      } finally {
        tmp.remove();
      }
    });
  }

  it('a compressed blob whose bytes are not the digest is still refused', async () => {
    const img = image();
    const wrong = Buffer.alloc(img.layer.length, 'other bytes ');
    const host = await serve((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.startsWith('/v2/app/manifests/')) return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(img.manifest);
      const body = path.endsWith(digest(img.layer)) ? wrong : img.blobs.get(path.replace('/v2/app/blobs/', ''));
      if (body === undefined) return void res.writeHead(404).end();
      const z = gzipSync(body);
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': z.length }).end(z);
    });
    const tmp = tempDir();
    try {
      await assert.rejects(
        pullToDestination(`${host}/app:1`, new OciLayout(join(tmp.path, 'out')), { platform: 'linux/amd64', credentials: null, retryDelay: 1, retries: 0 }),
        { code: 'ERR_REGISTRY_DIGEST_MISMATCH' },
      );
    } finally {
      tmp.remove();
    }
  });
});

describe('a token server that redirects', () => {
  it('hazard: the redirect is refused at once with ERR_REGISTRY_PROTOCOL, the credentials never follow it', async () => {
    const elsewhere: string[] = [];
    const other = await serve((req, res) => {
      elsewhere.push(String(req.headers.authorization));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    });
    let tokenRequests = 0;
    const realm = await serve((_req, res) => {
      tokenRequests++;
      res.writeHead(302, { location: `http://${other}/token` }).end();
    });
    const registry = await serve((_req, res) => void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${realm}/token",service="r"` }).end());
    await assert.rejects(pull(`${registry}/app:1`, { credentials: { username: 'alice', password: 'Proxy-Test-P4ss' }, retryDelay: 1 }), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL', String(err));
      assert.match(err.message, /HTTP 302, a redirect: refused/);
      return true;
    });
    assert.equal(tokenRequests, 1, 'not retried');
    assert.deepEqual(elsewhere, []);
  });
});
