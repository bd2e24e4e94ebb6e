// readBlobRange (src/registry/range.ts), what `fastlayer inspect` reads an eStargz layer's footer and
// TOC with, against registries on loopback: one that answers 206 with the range, and one that ignores
// Range and answers 200 with the whole blob. The 200 body is read as it comes and cancelled once the
// range is in: asserted by the bytes the server managed to hand to its socket, never by memory.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { connect, type RegistryOptions } from '../../src/registry/client.js';
import { readBlobRange } from '../../src/registry/range.js';
import { testServers, writeWhileOpen, type Sent } from '../helpers/http-servers.js';

const MiB = 1024 * 1024;
/** The whole blob a registry that ignores Range offers: far more than loopback buffers hold. */
const BLOB_SIZE = 64 * MiB;
/** What loopback socket buffers may hold beyond what the client read: far below BLOB_SIZE. */
const SOCKET_SLACK = 32 * MiB;
const GUARD = { timeout: 30_000 };
const options: RegistryOptions = { credentials: null, retries: 0, retryDelay: 5, timeout: 5000 };
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const { http: serve, raw } = testServers();

/** Byte `i` of the test blob: each 4-byte word holds its own index, so a slice read from the wrong offset shows. */
function blobBytes(from: number, to: number): Buffer {
  const start = from - (from % 4);
  const words = Buffer.alloc(Math.ceil((to - start) / 4) * 4);
  for (let i = 0; i < words.length; i += 4) words.writeUInt32BE((start + i) / 4, i);
  return words.subarray(from - start, from - start + (to - from));
}

/** Writes the whole test blob as a 200 (Content-Length set, or chunked) in 64 KiB pieces. */
function pourBlob(res: ServerResponse, contentLength: boolean): Promise<Sent> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', ...(contentLength ? { 'content-length': String(BLOB_SIZE) } : {}) });
  return writeWhileOpen(res, (sent) => (sent < BLOB_SIZE ? blobBytes(sent, Math.min(sent + 64 * 1024, BLOB_SIZE)) : undefined));
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  assert.fail('expected a rejection');
}

describe('a registry that ignores Range and answers 200 with the whole blob', () => {
  for (const contentLength of [true, false]) {
    const how = contentLength ? 'with Content-Length' : 'chunked';
    it(`(${how}) a range in the middle of a 64 MiB blob gives its bytes, and the body is not read to the end`, GUARD, async () => {
      let sent: Promise<Sent> | undefined;
      const ranges: (string | undefined)[] = [];
      const host = await serve((req, res) => {
        ranges.push(req.headers.range);
        sent = pourBlob(res, contentLength);
      });
      const offset = 3 * MiB + 5;
      const length = 100_000;
      const bytes = await readBlobRange(connect(`${host}/app:1`, options), DIGEST, offset, length);
      assert.equal(bytes.length, length);
      assert.ok(bytes.equals(blobBytes(offset, offset + length)), 'the bytes of another part of the blob');
      assert.deepEqual(ranges, [`bytes=${offset}-${offset + length - 1}`]);
      const s = await sent!;
      assert.equal(s.finished, false, 'the whole blob was sent: the client read the body to its end');
      assert.ok(s.bytes <= offset + length + SOCKET_SLACK, `${s.bytes} bytes of ${BLOB_SIZE} sent for a range ending at ${offset + length}`);
    });
  }

  it('a range ending 51 bytes before the blob\'s end (an eStargz TOC) is read from a body with Content-Length', GUARD, async () => {
    const blob = blobBytes(0, 200_000);
    const host = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    });
    const bytes = await readBlobRange(connect(`${host}/app:1`, options), DIGEST, 150_000, blob.length - 51 - 150_000);
    assert.ok(bytes.equals(blob.subarray(150_000, blob.length - 51)));
  });

  it('a 200 body that ends before the range does is ERR_REGISTRY_PROTOCOL naming where it ended', GUARD, async () => {
    const blob = blobBytes(0, 1000);
    for (const contentLength of [true, false]) {
      const host = await serve((_req, res) => {
        res.writeHead(200, contentLength ? { 'content-length': String(blob.length) } : {});
        res.end(blob);
      });
      const err = await rejection(readBlobRange(connect(`${host}/app:1`, options), DIGEST, 900, 200));
      assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL', err.message);
      assert.equal(err.status, 200);
      assert.match(err.message, /the blob ended after 1000 bytes/);
      const before = await rejection(readBlobRange(connect(`${host}/app:1`, options), DIGEST, 5000, 10));
      assert.equal(before.code, 'ERR_REGISTRY_PROTOCOL', before.message);
    }
  });

  it('a 200 body cut off before its Content-Length (connection closed) is ERR_REGISTRY_UNAVAILABLE, not a short or empty read', GUARD, async () => {
    const host = await raw((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${10 * MiB}\r\n\r\n`);
        socket.end(blobBytes(0, 1000));
      });
    });
    const err = await rejection(readBlobRange(connect(`${host}/app:1`, options), DIGEST, 500_000, 1000));
    assert.equal(err.code, 'ERR_REGISTRY_UNAVAILABLE', err.message);
  });
});

describe('a registry that answers 206', () => {
  it('the range it sends, with a matching Content-Range, is the result', GUARD, async () => {
    const blob = blobBytes(0, 10_000);
    const host = await serve((req, res) => {
      const [, s, e] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')!.map(Number) as [number, number, number];
      res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${blob.length}`, 'content-length': String(e - s + 1) });
      res.end(blob.subarray(s, e + 1));
    });
    const bytes = await readBlobRange(connect(`${host}/app:1`, options), DIGEST, 1234, 500);
    assert.ok(bytes.equals(blob.subarray(1234, 1734)));
  });

  for (const [what, contentRange, body] of [
    ['another range', 'bytes 0-499/10000', 500],
    ['no Content-Range', undefined, 500],
    ['fewer bytes than the range', 'bytes 1234-1733/10000', 400],
  ] as const) {
    it(`a 206 with ${what} is ERR_REGISTRY_PROTOCOL`, GUARD, async () => {
      const host = await serve((_req, res) => {
        res.writeHead(206, { ...(contentRange ? { 'content-range': contentRange } : {}), 'content-length': String(body) });
        res.end(blobBytes(0, body));
      });
      const err = await rejection(readBlobRange(connect(`${host}/app:1`, options), DIGEST, 1234, 500));
      assert.equal(err.code, 'ERR_REGISTRY_PROTOCOL', err.message);
      assert.equal(err.status, 206);
    });
  }
});
