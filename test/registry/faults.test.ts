// Faults between fastlayer and a real registry, injected by a proxy: each one ends in a clear coded
// error or a recovery, never in a tag pointing at a half-pushed image, and leaves no handle open (this
// file's process has to end by itself).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { Layer } from '../../src/layer/layer.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { pull } from '../../src/registry/pull.js';
import type { ErrRegistry } from '../../src/registry/errors.js';
import { randomBytes } from '../helpers/data.js';
import { collect } from '../helpers/layer.js';
import { closeServer, forward, readBody, registryMissing, startProxy, startRegistry, type ProxyOptions, type RunningRegistry } from '../helpers/registry.js';
import { bufferBlob, digestOf, streaming, writeTestImage } from '../helpers/registry-image.js';

const missing = registryMissing();
const PASSWORD = 'Fault-Test-P4ss-31f0';

function layerOf(bytes: Buffer): Layer {
  return new Layer(bytes, { compressionLevel: 1 });
}

function isBlobUpload(req: IncomingMessage): boolean {
  return (req.url ?? '').includes('/blobs/uploads/');
}

async function noTag(host: string, repo: string): Promise<void> {
  await assert.rejects(pull(`${host}/${repo}`), { code: 'ERR_REGISTRY_NOT_FOUND' });
}

describe('registry faults (docker-registry behind a fault-injecting proxy)', { skip: missing }, () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  async function withProxy<T>(options: ProxyOptions, fn: (host: string, proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<T>): Promise<T> {
    const proxy = await startProxy(registry.port, options);
    try {
      return await fn(proxy.host, proxy);
    } finally {
      await proxy.close();
    }
  }

  it('a 500 on the streaming PATCH is ERR_REGISTRY_STREAM_FAILED (single-use source), the session is cancelled, no tag', async () => {
    await withProxy(
      {
        intercept: async ({ req, res }) => {
          if (req.method !== 'PATCH') return false;
          await readBody(req);
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}');
          return true;
        },
      },
      async (host, proxy) => {
        const layer = layerOf(randomBytes(3_000_000, 11));
        await assert.rejects(writeTestImage(new RegistryDestination(`${host}/faults/patch500:v1`), [streaming(layer)]), (err: unknown) => {
          const e = err as ErrRegistry;
          assert.equal(e.code, 'ERR_REGISTRY_STREAM_FAILED');
          assert.equal(e.status, 500);
          assert.match(e.message, /single-use/);
          assert.match(e.message, /disk on fire/);
          return true;
        });
        assert.ok(proxy.log.some((l) => l.method === 'DELETE' && l.path.includes('/blobs/uploads/')), 'the upload session was cancelled');
        await noTag(registry.host, 'faults/patch500:v1');
      },
    );
  });

  it('a 500 on the PUT of a replayable blob is retried and the push completes', async () => {
    let failures = 0;
    await withProxy(
      {
        intercept: async ({ req, res }) => {
          if (req.method !== 'PUT' || !isBlobUpload(req) || failures > 0) return false;
          failures++;
          await readBody(req);
          res.writeHead(500).end();
          return true;
        },
      },
      async (host, proxy) => {
        const layer = bufferBlob(Buffer.from('known layer bytes '.repeat(1000)), 'application/vnd.oci.image.layer.v1.tar', { diffID: digestOf(Buffer.from('x')) });
        const result = await writeTestImage(new RegistryDestination(`${host}/faults/put500:v1`, { retryDelay: 10 }), [layer]);
        assert.equal(failures, 1);
        assert.ok(proxy.log.filter((l) => l.method === 'PUT' && l.path.includes('/blobs/uploads/')).length >= 3, 'the failed PUT was sent again');
        const image = await pull(`${registry.host}/faults/put500:v1`);
        assert.equal(image.manifest.descriptor.digest, result.manifest.descriptor.digest);
        assert.equal(digestOf(await collect(image.layers[0]!.open())), layer.descriptor.digest);
      },
    );
  });

  it('a 416 in chunked mode: the offset is read back from the upload URL and the rest is sent', async () => {
    let patches = 0;
    await withProxy(
      {
        intercept: async ({ req, res }) => {
          if (req.method !== 'PATCH' || ++patches !== 2) return false;
          // The registry gets only the first half of this chunk, the client hears 416.
          const body = await readBody(req);
          const [start] = String(req.headers['content-range']).split('-').map(Number);
          const half = body.subarray(0, body.length >> 1);
          const headers = { ...req.headers, 'content-range': `${start}-${start! + half.length - 1}`, 'content-length': String(half.length) };
          const up = await forward(registry.port, 'PATCH', req.url!, headers, half);
          assert.equal(up.status, 202);
          res.writeHead(416, { location: up.headers.location!, range: up.headers.range! }).end();
          return true;
        },
      },
      async (host, proxy) => {
        const data = randomBytes(600_000, 12);
        const result = await writeTestImage(new RegistryDestination(`${host}/faults/range:v1`, { chunkSize: 128 * 1024 }), [streaming(layerOf(data))]);
        assert.ok(proxy.log.some((l) => l.method === 'GET' && l.path.includes('/blobs/uploads/')), 'upload status was read');
        const image = await pull(`${registry.host}/faults/range:v1`);
        assert.equal(digestOf(await collect(image.layers[0]!.open())), result.layers[0]!.digest);
      },
    );
  });

  it('OCI-Chunk-Min-Length raises the chunk size of chunked mode', async () => {
    const ranges = new Map<string, string[]>();
    await withProxy(
      {
        intercept: ({ req }) => {
          if (req.method !== 'PATCH') return false;
          const session = /\/blobs\/uploads\/([^?]+)/.exec(req.url ?? '')![1]!;
          ranges.set(session, [...(ranges.get(session) ?? []), String(req.headers['content-range'])]);
          return false;
        },
        headers: (req, _s, h) => {
          if (req.method === 'POST') h['oci-chunk-min-length'] = '300000';
        },
      },
      async (host) => {
        const result = await writeTestImage(new RegistryDestination(`${host}/faults/minchunk:v1`, { chunkSize: 64 * 1024 }), [streaming(layerOf(randomBytes(700_000, 14)))]);
        // The layer's session is the one with several PATCHes (the config fits in one).
        const layer = [...ranges.values()].find((r) => r.length > 1)!;
        const widths = layer.map((r) => r.split('-').map(Number)).map(([a, b]) => b! - a! + 1);
        assert.ok(widths.length >= 2);
        for (const w of widths.slice(0, -1)) assert.equal(w, 300000);
        assert.equal(widths.reduce((a, b) => a + b, 0), result.layers[0]!.size);
      },
    );
  });

  it('a blob corrupted on the way is ERR_REGISTRY_DIGEST_MISMATCH while streaming (a config: at pull)', async () => {
    const data = Buffer.from('pull me '.repeat(5000));
    const written = await writeTestImage(new RegistryDestination(`${registry.host}/faults/corrupt:v1`), [streaming(layerOf(data))]);
    let spareConfig = true;
    await withProxy(
      {
        transform: (req, chunk) => {
          if (req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url ?? '')) return chunk;
          if (spareConfig && req.url!.endsWith(written.config.descriptor.digest)) return chunk;
          const copy = Buffer.from(chunk);
          copy[copy.length >> 1]! ^= 0xff;
          return copy;
        },
      },
      async (host) => {
        const image = await pull(`${host}/faults/corrupt:v1`);
        await assert.rejects(collect(image.layers[0]!.open()), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
        // pull reads the (small) image config itself, verified: a corrupted one fails the pull.
        spareConfig = false;
        await assert.rejects(pull(`${host}/faults/corrupt:v1`), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
      },
    );
  });

  const locations: [string, ProxyOptions['headers'], ProxyOptions['path']][] = [
    ['relative', (_req, _s, h) => void (h.location &&= String(h.location).replace(/^https?:\/\/[^/]+/, '')), undefined],
    ['relative without a leading slash', (req, _s, h) => {
      // Resolved against the request URL: from /v2/<repo>/blobs/uploads/ a bare "<uuid>?..." stays in that folder.
      if (!h.location || req.method !== 'POST') return;
      h.location = String(h.location).replace(/^.*\/blobs\/uploads\//, '');
    }, undefined],
    ['absolute on another path outside /v2', (_req, _s, h) => void (h.location &&= String(h.location).replace('/v2/', '/elsewhere/')), (p) => p.replace(/^\/elsewhere\//, '/v2/')],
    ['with an extra query parameter', (_req, _s, h) => void (h.location &&= `${String(h.location)}&fl-extra=a%2Fb`), undefined],
  ];
  for (const [name, rewrite, path] of locations) {
    for (const chunked of [false, true]) {
      it(`Location ${name} (${chunked ? 'chunked' : 'streaming'}): resolved against the request, the latest one used, digest appended with &`, async () => {
        await withProxy({ headers: rewrite, ...(path ? { path } : {}) }, async (host, proxy) => {
          const data = randomBytes(300_000, 13);
          const repo = `faults/location${locations.findIndex((l) => l[0] === name)}${chunked ? 'c' : 's'}:v1`;
          const result = await writeTestImage(new RegistryDestination(`${host}/${repo}`, chunked ? { chunkSize: 64 * 1024 } : {}), [streaming(layerOf(data))]);
          const puts = proxy.log.filter((l) => l.method === 'PUT' && l.path.includes('digest='));
          assert.ok(puts.length >= 2);
          for (const p of puts) assert.match(p.path, /\?_state=[^?]*&digest=sha256%3A[a-f0-9]{64}$/);
          const image = await pull(`${registry.host}/${repo}`);
          assert.equal(digestOf(await collect(image.layers[0]!.open())), result.layers[0]!.digest);
        });
      });
    }
  }

  it('the registry killed mid-upload: ERR_REGISTRY_STREAM_FAILED, and after a restart no tag exists', async () => {
    const repo = 'faults/killed:v1';
    let sent = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 40; i++) {
        yield randomBytes(256 * 1024, 100 + i);
        sent++;
        if (sent === 8) await registry.kill();
      }
    }
    const layer = new Layer(source(), { compressionLevel: 1 });
    try {
      await assert.rejects(writeTestImage(new RegistryDestination(`${registry.host}/${repo}`, { retryDelay: 10, retries: 1 }), [streaming(layer)]), (err: unknown) => {
        assert.ok(['ERR_REGISTRY_STREAM_FAILED', 'ERR_REGISTRY_UNAVAILABLE'].includes((err as ErrRegistry).code), String(err));
        return true;
      });
      await assert.rejects(layer.done);
    } finally {
      await registry.restart();
    }
    await noTag(registry.host, repo);
  });

  it('an abort mid-upload rejects with the abort reason, stops the layer and leaves no tag', async () => {
    const controller = new AbortController();
    let n = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 40; i++) {
        yield randomBytes(256 * 1024, 200 + i);
        if (++n === 6) controller.abort(new Error('user pressed ^C'));
      }
    }
    const layer = new Layer(source(), { compressionLevel: 1 });
    const dest = new RegistryDestination(`${registry.host}/faults/aborted:v1`, { signal: controller.signal });
    await assert.rejects(writeTestImage(dest, [streaming(layer)]), (err: unknown) => {
      assert.ok(controller.signal.aborted);
      assert.ok(n < 40, 'the source stopped being read');
      return err instanceof Error;
    });
    await assert.rejects(layer.done);
    await noTag(registry.host, 'faults/aborted:v1');
  });

  it('a known blob whose bytes are not its descriptor is ERR_REGISTRY_DIGEST_MISMATCH; a failing layer source reports its own error', async () => {
    const bytes = Buffer.from('twelve bytes');
    const lying = { ...bufferBlob(bytes, 'application/vnd.oci.image.layer.v1.tar', { diffID: digestOf(bytes) }) };
    const short = { ...lying, descriptor: { ...lying.descriptor, size: bytes.length + 5 } };
    await assert.rejects(new RegistryDestination(`${registry.host}/faults/lying:v1`).writeBlob(short), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
    const other = { ...lying, descriptor: { ...lying.descriptor, digest: digestOf(Buffer.from('something else')) } };
    await assert.rejects(new RegistryDestination(`${registry.host}/faults/lying:v1`).writeBlob(other), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
    class SourceBroke extends Error {
      readonly code = 'ERR_TEST_SOURCE';
    }
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield randomBytes(512 * 1024, 300);
      throw new SourceBroke('disk unplugged');
    }
    for (const chunkSize of [undefined, 64 * 1024]) {
      const layer = new Layer(broken(), { compressionLevel: 1 });
      await assert.rejects(new RegistryDestination(`${registry.host}/faults/broken:v1`, chunkSize ? { chunkSize } : {}).writeBlob(streaming(layer)), { code: 'ERR_TEST_SOURCE' });
    }
  });

  it('a manifest larger than the cap is ERR_REGISTRY_PROTOCOL; a wrong Docker-Content-Digest is ERR_REGISTRY_DIGEST_MISMATCH', async () => {
    await writeTestImage(new RegistryDestination(`${registry.host}/faults/manifest:v1`), [streaming(layerOf(Buffer.from('m')))]);
    await withProxy(
      {
        intercept: ({ req, res }) => {
          if (!(req.url ?? '').endsWith('/manifests/huge')) return false;
          res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
          res.end(Buffer.alloc(5 * 1024 * 1024, 32));
          return true;
        },
        headers: (req, _s, h) => {
          if ((req.url ?? '').endsWith('/manifests/v1')) h['docker-content-digest'] = `sha256:${'0'.repeat(64)}`;
        },
      },
      async (host) => {
        await assert.rejects(pull(`${host}/faults/manifest:huge`), { code: 'ERR_REGISTRY_PROTOCOL' });
        await assert.rejects(pull(`${host}/faults/manifest:v1`), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
      },
    );
  });

  it('a 503 on a manifest GET is retried with backoff; one that stays is ERR_REGISTRY_UNAVAILABLE', async () => {
    await writeTestImage(new RegistryDestination(`${registry.host}/faults/flaky:v1`), [streaming(layerOf(Buffer.from('f')))]);
    let left = 2;
    await withProxy(
      {
        intercept: ({ req, res }) => {
          const url = req.url ?? '';
          if (url.endsWith('/manifests/v1') && left > 0) {
            left--;
            res.writeHead(503).end();
            return true;
          }
          if (url.endsWith('/manifests/down')) {
            res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"maintenance"}]}');
            return true;
          }
          return false;
        },
      },
      async (host) => {
        const image = await pull(`${host}/faults/flaky:v1`, { retryDelay: 5 });
        assert.equal(left, 0);
        assert.equal(image.layers.length, 1);
        await assert.rejects(pull(`${host}/faults/flaky:down`, { retryDelay: 5, retries: 2 }), (err: unknown) => {
          assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAVAILABLE');
          assert.equal((err as ErrRegistry).status, 503);
          assert.deepEqual((err as ErrRegistry).errors.map((e) => e.code), ['UNAVAILABLE']);
          return true;
        });
      },
    );
  });
});

describe('a redirect to another host (docker-registry with Basic auth)', { skip: missing }, () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry({ kind: 'htpasswd', users: { alice: PASSWORD } });
  });
  after(async () => {
    await registry?.stop();
  });

  it('drops the Authorization header on the other host and still verifies the blob', async () => {
    const credentials = { username: 'alice', password: PASSWORD };
    const data = Buffer.from('served by a CDN '.repeat(4000));
    await writeTestImage(new RegistryDestination(`${registry.host}/cdn/app:v1`, { credentials }), [streaming(layerOf(data))]);
    const seen: (string | undefined)[] = [];
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    const cdn = createServer(async (req, res) => {
      seen.push(req.headers.authorization);
      const up = await fetch(`http://${registry.host}/v2/cdn/app/blobs/${(req.url ?? '').slice('/blob/'.length)}`, { headers: { authorization: basic } });
      res.writeHead(up.status).end(Buffer.from(await up.arrayBuffer()));
    });
    await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
    const cdnPort = (cdn.address() as { port: number }).port;
    const proxy = await startProxy(registry.port, {
      intercept: ({ req, res }) => {
        const m = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
        if (req.method !== 'GET' || !m || req.headers.authorization === undefined) return false;
        res.writeHead(307, { location: `http://127.0.0.1:${cdnPort}/blob/${m[1]}?X-Signature=presigned` }).end();
        return true;
      },
    });
    try {
      const image = await pull(`${proxy.host}/cdn/app:v1`, { credentials });
      const gz = await collect(image.layers[0]!.open());
      assert.equal(digestOf(gz), image.layers[0]!.descriptor.digest);
      assert.ok(seen.length >= 1, 'the CDN served the blob');
      assert.deepEqual(seen, seen.map(() => undefined), 'no Authorization reached the other host');
      assert.ok(proxy.log.some((l) => l.method === 'GET' && l.path.includes('/blobs/') && l.auth), 'the registry itself got it');
    } finally {
      await proxy.close();
      await closeServer(cdn);
    }
  });

  it('an upload Location on another host gets no Authorization header', async () => {
    const credentials = { username: 'alice', password: PASSWORD };
    const other = await startProxy(registry.port);
    const front = await startProxy(registry.port, {
      headers: (req, _s, h) => {
        if (req.method === 'POST' && h.location) h.location = String(h.location).replace(/^https?:\/\/[^/]+/, `http://${other.host}`);
      },
    });
    try {
      const blob = bufferBlob(Buffer.from('elsewhere'), 'application/vnd.oci.image.layer.v1.tar', { diffID: digestOf(Buffer.from('e')) });
      await assert.rejects(new RegistryDestination(`${front.host}/cdn/upload:v1`, { credentials }).writeBlob(blob), { code: 'ERR_REGISTRY_UNAUTHORIZED' });
      assert.ok(other.log.length > 0, 'the upload went to the other host');
      assert.ok(other.log.every((l) => !l.auth), 'without credentials');
      assert.ok(front.log.some((l) => l.auth), 'the registry host got them');
    } finally {
      await front.close();
      await other.close();
    }
  });
});
