// Hostile registries, token servers and redirect targets on loopback: bodies that never end or lie about
// their length, compression bombs, servers that never answer, stop sending or stop reading. Every body
// read is bounded while it is read, and every wait has a timeout that is retried like a dropped
// connection and ends in a coded error. Caps are asserted by the bytes a server managed to hand to its
// socket (not by RSS); timeouts are short (a few hundred ms) and asserted by outcome, never by duration.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Transport, drain } from '../../src/registry/transport.js';
import { Authenticator } from '../../src/registry/auth.js';
import { pull } from '../../src/registry/pull.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import type { RegistryOptions } from '../../src/registry/client.js';
import { BIN, binMissing } from '../helpers/cli.js';
import { tempDir } from '../helpers/tree.js';
import { testServers, writeWhileOpen, type Handler } from '../helpers/http-servers.js';

const { http: serve, raw } = testServers();

/** A raw TCP server answering each request head with `answer` (for bodies that lie about their length). */
function serveRaw(answer: (socket: Socket, head: string) => void): Promise<string> {
  return raw((socket) => {
    let head = '';
    socket.on('error', () => {});
    socket.on('data', (b: Buffer) => {
      head += b.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end >= 0) {
        const h = head.slice(0, end);
        head = head.slice(end + 4);
        answer(socket, h);
      }
    });
  });
}

const MiB = 1024 * 1024;
/** What an endless body offers at most, so a client that reads it whole still ends (and fails the test). */
const POUR_LIMIT = 128 * MiB;
/** What loopback socket buffers may hold beyond what the client read: far below POUR_LIMIT. */
const SOCKET_SLACK = 32 * MiB;

/**
 * Writes `first` then filler bytes until the client stops reading and goes away (or POUR_LIMIT);
 * resolves with the bytes handed to the socket.
 */
async function pour(res: ServerResponse, first = ''): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const sent = await writeWhileOpen(res, (n) => (n === 0 && first ? Buffer.from(first) : n < POUR_LIMIT ? chunk : undefined));
  return sent.bytes;
}

/** Per-request byte counts of `pour`, to check after the client gave up. */
class Pours {
  readonly list: Promise<number>[] = [];
  add(p: Promise<number>): void {
    this.list.push(p);
  }
  async max(): Promise<number> {
    const all = await Promise.all(this.list);
    assert.ok(all.length > 0, 'the server poured nothing');
    return Math.max(...all);
  }
}

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A one-layer image: manifest bytes, config and layer by digest. */
function image(layer: Buffer) {
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(layer), size: layer.length }],
    }),
  );
  return { manifest, config, layer, layerDigest: sha256(layer), configDigest: sha256(config) };
}

/** pull() reads an image config up front: the fake registries serve it, whatever they do to the rest. */
function sentConfig(req: IncomingMessage, res: ServerResponse, img: { config: Buffer; configDigest: string }): boolean {
  if (!req.url!.endsWith(`/blobs/${img.configDigest}`)) return false;
  res.writeHead(200, { 'content-length': String(img.config.length) });
  res.end(img.config);
  return true;
}

/** The same for a raw socket server. */
function wroteConfig(socket: Socket, head: string, img: { config: Buffer; configDigest: string }): boolean {
  if (!head.includes(`/blobs/${img.configDigest}`)) return false;
  socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${img.config.length}\r\n\r\n`);
  socket.end(img.config);
  return true;
}

function sendManifest(res: ServerResponse, bytes: Buffer): void {
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(bytes.length) });
  res.end(bytes);
}

const anonymous: RegistryOptions = { credentials: null, retryDelay: 5 };

function transport(host: string, options: RegistryOptions = {}): Transport {
  const o = { ...anonymous, ...options };
  return new Transport(host, new Authenticator(host, o), o);
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail('expected a rejection');
}

// Guards against a regression hanging the run (before the timeouts existed these waited 300 s or forever).
const GUARD = { timeout: 20_000 };

describe('response bodies are bounded while read', () => {
  it('drain reads at most 64 KiB of a body of unknown length, then cancels it', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        // Ends after POUR_LIMIT so that a drain reading it whole still ends (and fails the test).
        if (pulled >= POUR_LIMIT) return c.close();
        pulled += 16 * 1024;
        c.enqueue(new Uint8Array(16 * 1024));
      },
    });
    await drain(new Response(body, { status: 503 }));
    assert.ok(pulled <= 64 * 1024 + 16 * 1024 * 2, `pulled ${pulled} bytes`);
  });

  for (const status of [401, 503, 404, 400]) {
    it(`an endless chunked ${status} body (no Content-Length) is not read whole`, GUARD, async () => {
      const pours = new Pours();
      const host = await serve((_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Basic realm="r"' } : {}) });
        pours.add(pour(res, '{"errors":[{"code":"X","message":"'));
      });
      const err = await rejection(pull(`${host}/app:1`, { ...anonymous, retries: 1, credentials: { username: 'u', password: 'p' } }));
      assert.match(err.code ?? '', /^ERR_REGISTRY_/);
      assert.ok((await pours.max()) < SOCKET_SLACK, `a server sent ${await pours.max()} bytes of a ${status} body`);
    });
  }

  it('an endless chunked body on a redirect is not read whole, and the redirect is still followed', GUARD, async () => {
    const pours = new Pours();
    const img = image(Buffer.from('x'));
    const { manifest } = img;
    const host = await serve((req, res) => {
      if (sentConfig(req, res, img)) return;
      if (req.url === '/v2/app/manifests/1') {
        res.writeHead(302, { location: '/v2/app/manifests/real' });
        pours.add(pour(res));
      } else sendManifest(res, manifest);
    });
    const pulled = await pull(`${host}/app:1`, anonymous);
    assert.equal(pulled.manifest.descriptor.digest, sha256(manifest));
    assert.ok((await pours.max()) < SOCKET_SLACK);
  });

  it('an endless body on a 202 opening an upload is not read whole', GUARD, async () => {
    const pours = new Pours();
    const host = await serve((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(404).end();
      } else if (req.method === 'POST') {
        res.writeHead(202, { location: '/v2/app/blobs/uploads/u1' });
        pours.add(pour(res));
      } else {
        req.resume();
        res.writeHead(500).end();
      }
    });
    const dest = new RegistryDestination(`${host}/app:1`, { ...anonymous, retries: 0 });
    const data = Buffer.from('blob');
    const err = await rejection(dest.writeBlob({ kind: 'known', descriptor: { mediaType: 'x', digest: sha256(data), size: data.length }, open: () => Readable.from([data]) }));
    assert.match(err.code ?? '', /^ERR_REGISTRY_/);
    assert.ok((await pours.max()) < SOCKET_SLACK);
  });

  it('a manifest that never ends stops at the 4 MiB cap (ERR_REGISTRY_PROTOCOL)', GUARD, async () => {
    const pours = new Pours();
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      pours.add(pour(res, '{"schemaVersion":2,"x":"'));
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL');
    assert.match(err.message, /4194304-byte limit/);
    assert.ok((await pours.max()) < SOCKET_SLACK);
  });

  it('a manifest declaring more than 4 MiB is refused before it is read', GUARD, async () => {
    const pours = new Pours();
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(300 * MiB) });
      pours.add(pour(res));
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL');
    assert.ok((await pours.max()) < SOCKET_SLACK);
  });

  it('a gzip bomb (content-encoding, which fetch decodes) stops at the cap of what it decodes to', GUARD, async () => {
    const bomb = gzipSync(Buffer.alloc(64 * MiB, 0x20));
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
      res.end(bomb);
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL');
    assert.match(err.message, /exceeds the 4194304-byte limit/);
  });

  it('a body shorter than its Content-Length (connection closed) is ERR_REGISTRY_UNAVAILABLE, not a TypeError', GUARD, async () => {
    const host = await serveRaw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: 1000\r\n\r\n{"schemaVersion":2');
      setTimeout(() => socket.destroy(), 50);
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_UNAVAILABLE');
    assert.ok(!(err instanceof TypeError));
  });

  it('a body longer than its Content-Length is read only to the length it declared', GUARD, async () => {
    const img = image(Buffer.from('y'));
    const { manifest } = img;
    const host = await serveRaw((socket, head) => {
      if (wroteConfig(socket, head, img)) return;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: ${manifest.length}\r\n\r\n`);
      socket.write(manifest);
      socket.write(Buffer.alloc(8 * MiB, 0x61));
      socket.end();
    });
    const pulled = await pull(`${host}/app:1`, anonymous);
    assert.equal(pulled.manifest.descriptor.size, manifest.length);
  });

  it('a blob shorter than its Content-Length fails its stream with ERR_REGISTRY_UNAVAILABLE', GUARD, async () => {
    const img = image(Buffer.alloc(100_000, 1));
    const host = await serveRaw((socket, head) => {
      if (wroteConfig(socket, head, img)) return;
      if (head.includes('/manifests/')) {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json\r\ncontent-length: ${img.manifest.length}\r\n\r\n`);
        socket.write(img.manifest);
      } else {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${img.layer.length}\r\n\r\n`);
        socket.write(img.layer.subarray(0, 1000));
        setTimeout(() => socket.destroy(), 50);
      }
    });
    const pulled = await pull(`${host}/app:1`, anonymous);
    const err = await rejection(collect(pulled.layers[0]!.open()));
    assert.equal(err.code, 'ERR_REGISTRY_UNAVAILABLE');
  });
});

describe('token responses are bounded at 1 MiB while read', () => {
  /** A registry whose Bearer challenge points at `token` on a second server. */
  async function bearer(token: Handler): Promise<string> {
    const tokenHost = await serve(token);
    return serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokenHost}/token",service="r"` });
      res.end();
    });
  }

  it('an endless 200 token response stops at 1 MiB (ERR_REGISTRY_PROTOCOL)', GUARD, async () => {
    const pours = new Pours();
    const host = await bearer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      pours.add(pour(res, '{"token":"'));
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL');
    assert.match(err.message, /1048576-byte limit/);
    assert.ok((await pours.max()) < SOCKET_SLACK, `the token server sent ${await pours.max()} bytes`);
  });

  it('a token response declaring 300 MiB is refused before it is read', GUARD, async () => {
    const pours = new Pours();
    const host = await bearer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(300 * MiB) });
      pours.add(pour(res, '{"token":"'));
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL');
    assert.ok((await pours.max()) < SOCKET_SLACK);
  });

  it('an endless 401 from the token server is not read whole (ERR_REGISTRY_UNAUTHORIZED)', GUARD, async () => {
    const pours = new Pours();
    const host = await bearer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      pours.add(pour(res));
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_UNAUTHORIZED');
    assert.ok((await pours.max()) < SOCKET_SLACK);
  });

  it('a gzip-bomb token response stops at the 1 MiB cap', GUARD, async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"token":"'), Buffer.alloc(64 * MiB, 0x61), Buffer.from('"}')]));
    const host = await bearer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
      res.end(bomb);
    });
    const err = await rejection(pull(`${host}/app:1`, anonymous));
    assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL');
    assert.match(err.message, /1048576-byte limit/);
  });
});

describe('timeouts', () => {
  const short = { headers: 300, idle: 300 };

  it('a registry that accepts and never answers: every attempt times out, then ERR_REGISTRY_TIMEOUT naming host and request', GUARD, async () => {
    let requests = 0;
    const host = await serve(() => {
      requests++;
    });
    const err = await rejection(pull(`${host}/app:1`, { ...anonymous, timeout: short }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.equal(requests, 4, 'the default 3 retries after the first attempt');
    assert.ok(err.message.includes(host), err.message);
    assert.match(err.message, /GET .*\/v2\/app\/manifests\/1/);
    assert.match(err.message, /no response headers/);
  });

  it('the attempt count is the transport one: retries: 1 makes two requests', GUARD, async () => {
    let requests = 0;
    const host = await serve(() => {
      requests++;
    });
    const err = await rejection(pull(`${host}/app:1`, { ...anonymous, retries: 1, timeout: 250 }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.equal(requests, 2);
  });

  it('a timeout after a few hangs is retried, and the next answer is used', GUARD, async () => {
    const img = image(Buffer.from('z'));
    const { manifest } = img;
    let requests = 0;
    const host = await serve((req, res) => {
      if (sentConfig(req, res, img)) return;
      if (++requests < 3) return;
      sendManifest(res, manifest);
    });
    const pulled = await pull(`${host}/app:1`, { ...anonymous, timeout: short });
    assert.equal(pulled.manifest.descriptor.digest, sha256(manifest));
    assert.equal(requests, 3);
  });

  it('the timeout error never holds the credentials', GUARD, async () => {
    const password = 'hunter2-very-secret';
    const host = await serve((req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      }
      // With credentials: never answers.
    });
    const err = await rejection(pull(`${host}/app:1`, { retryDelay: 5, timeout: short, credentials: { username: 'user', password } }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    const all = `${err.message} ${inspect(err, { depth: 5 })} ${JSON.stringify(err)}`;
    assert.ok(!all.includes(password) && !all.includes(Buffer.from(`user:${password}`).toString('base64')));
  });

  it('a manifest PUT (a body in memory) that gets no answer times out', GUARD, async () => {
    const host = await serve((req) => {
      req.resume();
    });
    const t = transport(host, { timeout: short, retries: 1 });
    const err = await rejection(t.send({ method: 'PUT', url: t.url('app/manifests/1'), body: Buffer.from('{}'), scopes: [] }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
  });

  it('a body that stops arriving (one byte, then nothing) fails the blob stream with ERR_REGISTRY_TIMEOUT', GUARD, async () => {
    const img = image(Buffer.alloc(50_000, 2));
    const host = await serve((req, res) => {
      if (sentConfig(req, res, img)) return;
      if (req.url!.includes('/manifests/')) return sendManifest(res, img.manifest);
      res.writeHead(200, { 'content-length': String(img.layer.length) });
      res.write(img.layer.subarray(0, 1));
    });
    const pulled = await pull(`${host}/app:1`, { ...anonymous, timeout: short });
    const err = await rejection(collect(pulled.layers[0]!.open()));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.ok(err.message.includes(host) && err.message.includes(img.layerDigest), err.message);
    assert.match(err.message, /no byte of the response body/);
  });

  it('a manifest body that stops arriving times out too', GUARD, async () => {
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.write('{"schemaVersion"');
    });
    const err = await rejection(pull(`${host}/app:1`, { ...anonymous, timeout: short }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
  });

  it('a slow blob that keeps moving is not timed out: the idle timeout is not a total one', GUARD, async () => {
    const img = image(Buffer.alloc(40 * 1000, 3));
    const host = await serve((req, res) => {
      if (sentConfig(req, res, img)) return;
      if (req.url!.includes('/manifests/')) return sendManifest(res, img.manifest);
      res.writeHead(200, { 'content-length': String(img.layer.length) });
      let at = 0;
      const step = (): void => {
        res.write(img.layer.subarray(at, at + 1000));
        at += 1000;
        if (at >= img.layer.length) res.end();
        else setTimeout(step, 40);
      };
      step();
    });
    // 40 pieces 40 ms apart: the whole takes several idle periods, no gap comes near one.
    const pulled = await pull(`${host}/app:1`, { ...anonymous, timeout: { headers: 600, idle: 600 } });
    assert.ok((await collect(pulled.layers[0]!.open())).equals(img.layer));
  });

  it('a registry that stops reading a streamed PATCH body: ERR_REGISTRY_STREAM_FAILED caused by the timeout', GUARD, async () => {
    let requests = 0;
    const host = await serve((req) => {
      requests++;
      req.pause();
    });
    const t = transport(host, { timeout: short });
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8192; i++) yield new Uint8Array(64 * 1024);
    }
    const err = await rejection(t.send({ method: 'PATCH', url: t.url('app/blobs/uploads/u'), body: { once: endless() }, scopes: [] }));
    assert.equal(err.code, 'ERR_REGISTRY_STREAM_FAILED');
    assert.equal((err.cause as { code?: string }).code, 'ERR_REGISTRY_TIMEOUT');
    assert.match(err.message, /request body/);
    assert.equal(requests, 1);
  });

  it('a registry that stops reading a replayable upload: retried, then ERR_REGISTRY_TIMEOUT', GUARD, async () => {
    let requests = 0;
    const host = await serve((req) => {
      requests++;
      req.pause();
    });
    const t = transport(host, { timeout: short, retries: 2 });
    const replay = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8192; i++) yield new Uint8Array(64 * 1024);
    };
    const err = await rejection(t.send({ method: 'PUT', url: t.url('app/blobs/uploads/u?digest=x'), body: { replay, length: 8192 * 64 * 1024 }, headers: { 'content-length': String(8192 * 64 * 1024) }, scopes: [] }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.equal(requests, 3);
  });

  it('a registry that reads the whole upload and then never answers times out', GUARD, async () => {
    const host = await serve((req) => {
      req.resume();
    });
    const t = transport(host, { timeout: short, retries: 0 });
    const replay = async function* (): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1024);
    };
    const err = await rejection(t.send({ method: 'PUT', url: t.url('app/x'), body: { replay, length: 1024 }, headers: { 'content-length': '1024' }, scopes: [] }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.match(err.message, /after the request body/);
  });

  it('a token server that never answers: ERR_REGISTRY_TIMEOUT naming the token server', GUARD, async () => {
    let tokenRequests = 0;
    const tokenHost = await serve(() => {
      tokenRequests++;
    });
    const host = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokenHost}/token",service="r"` }).end();
    });
    const err = await rejection(pull(`${host}/app:1`, { ...anonymous, timeout: short }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.ok(err.message.includes(tokenHost), err.message);
    assert.equal(tokenRequests, 3);
  });

  it('a token response that stops arriving times out', GUARD, async () => {
    const tokenHost = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"token":"ab');
    });
    const host = await serve((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokenHost}/token",service="r"` }).end();
    });
    const err = await rejection(pull(`${host}/app:1`, { ...anonymous, timeout: short }));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
  });

  it('a redirect target (another host) that never answers: ERR_REGISTRY_TIMEOUT naming that host', GUARD, async () => {
    let hops = 0;
    const target = await serve(() => {
      hops++;
    }, '127.0.0.2');
    const img = image(Buffer.alloc(10, 4));
    const host = await serve((req, res) => {
      if (sentConfig(req, res, img)) return;
      if (req.url!.includes('/manifests/')) return sendManifest(res, img.manifest);
      res.writeHead(307, { location: `http://${target}/blob?sig=secret` }).end();
    });
    const pulled = await pull(`${host}/app:1`, { ...anonymous, timeout: short });
    const err = await rejection(collect(pulled.layers[0]!.open()));
    assert.equal(err.code, 'ERR_REGISTRY_TIMEOUT');
    assert.ok(err.message.includes('127.0.0.2'), err.message);
    assert.ok(!err.message.includes('secret'));
    assert.equal(hops, 4);
  });

  it('timeout options out of range are ERR_OPTION_OUT_OF_RANGE', async () => {
    for (const timeout of [0, -1, NaN, Infinity, 2 ** 31, { headers: 0 }, { idle: -5 }, { headers: '30' as unknown as number }]) {
      await assert.rejects(pull('127.0.0.1:1/app:1', { timeout }), { code: 'ERR_OPTION_OUT_OF_RANGE' }, JSON.stringify(timeout));
      assert.throws(() => new RegistryDestination('127.0.0.1:1/app:1', { timeout }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    }
  });
});

describe('CLI --timeout', { skip: binMissing() }, () => {
  function run(args: string[]): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DOCKER_CONFIG: tempDir().path } });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stderr });
      });
    });
  }

  for (const command of [
    (host: string, dir: string) => ['pull', `${host}/app:1`, '--output', join(dir, 'out.tar')],
    (host: string) => ['inspect', `docker://${host}/app:1`],
  ]) {
    it(`${command('H', '/d')[0]} --timeout 0.3 against a registry that never answers fails with ERR_REGISTRY_TIMEOUT`, GUARD, async () => {
      let requests = 0;
      const host = await serve(() => {
        requests++;
      });
      const r = await run([...command(host, tempDir().path), '--timeout', '0.3']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /ERR_REGISTRY_TIMEOUT|timed out|no response headers/);
      assert.ok(r.stderr.includes(host), r.stderr);
      // Four attempts at most (the first and three retries). On a loaded machine the client can give
      // up on its last attempt before this process has read that request, so fewer may be counted.
      assert.ok(requests >= 1 && requests <= 4, `${requests} requests`);
    });
  }

  it('every command that talks to a registry documents --timeout in its help', async () => {
    for (const command of ['image', 'push', 'pull', 'inspect']) {
      const child = spawn(process.execPath, [BIN, command, '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      await new Promise((resolve) => child.on('close', resolve));
      assert.match(out, /--timeout SECONDS/, command);
    }
  });

  for (const value of ['0', 'abc', '-1', '1e3', '100000']) {
    it(`--timeout ${value} is a usage error`, async () => {
      const r = await run(['pull', '127.0.0.1:1/app:1', '--output', join(tempDir().path, 'o.tar'), '--timeout', value]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--timeout/);
    });
  }
});
