// readToc (src/estargz/reader.ts) over a registry, as `fastlayer inspect` reads an eStargz layer: the
// footer and the TOC by range requests. A registry that ignores Range (200, the whole blob) still
// gives the TOC; a failure of the read itself keeps its own error and code, and only a TOC that does
// not inflate or check out is ERR_ESTARGZ_INVALID.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { estargzLayer, readToc, type EstargzResult } from '../../src/estargz/index.js';
import { FOOTER_SIZE } from '../../src/estargz/toc.js';
import { entryHeader, padding, trailer } from '../../src/tar/header.js';
import { connect, type RegistryOptions } from '../../src/registry/client.js';
import { readBlobRange } from '../../src/registry/range.js';
import { semiCompressible } from '../helpers/data.js';
import { testServers } from '../helpers/http-servers.js';

const GUARD = { timeout: 30_000 };
const options: RegistryOptions = { credentials: null, retries: 0, retryDelay: 5, timeout: 5000 };

let blob: Buffer;
let result: EstargzResult;
const { http: serve, raw } = testServers();

before(async () => {
  const parts: Buffer[] = [];
  for (const [name, data] of [['app/big.bin', semiCompressible(3 * 1024 * 1024, 3)], ['app/a.txt', Buffer.from('a\n'.repeat(500))]] as const) {
    parts.push(entryHeader({ name: Buffer.from(name), type: '0', mode: 0o644, size: data.length, mtime: 0, uid: 0, gid: 0, uname: '', gname: '' }), data, padding(data.length));
  }
  parts.push(trailer());
  const l = estargzLayer((async function* () {
    yield Buffer.concat(parts);
  })());
  const chunks: Buffer[] = [];
  for await (const c of l.stream) chunks.push(Buffer.from(c));
  blob = Buffer.concat(chunks);
  result = await l.done;
});
/** The range a request asks for, or undefined. */
function rangeOf(req: IncomingMessage): [number, number] | undefined {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function sendRange(req: IncomingMessage, res: ServerResponse, bytes: Buffer): void {
  const [s, e] = rangeOf(req)!;
  res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${bytes.length}`, 'content-length': String(e - s + 1) });
  res.end(bytes.subarray(s, e + 1));
}

/** Whether `req` is the footer's request (the last 51 bytes). */
const isFooter = (req: IncomingMessage): boolean => rangeOf(req)?.[0] === blob.length - FOOTER_SIZE;

const tocOf = (host: string) =>
  readToc((offset, length) => readBlobRange(connect(`${host}/e/app:1`, options), result.digest, offset, length), blob.length, result.tocDigest);

describe('readToc through readBlobRange', () => {
  it('a registry that ignores Range (200 with the whole blob and its Content-Length) still gives the TOC', GUARD, async () => {
    const ranges: (string | undefined)[] = [];
    const host = await serve((req, res) => {
      ranges.push(`${req.method} ${req.url} ${req.headers.range}`);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
      res.end(blob);
    });
    const s = await tocOf(host);
    const local = await readToc(async (o, n) => blob.subarray(o, o + n), blob.length);
    assert.equal(s.tocDigest, result.tocDigest);
    assert.equal(s.tocOffset, local.tocOffset);
    assert.equal(s.files, local.files);
    assert.equal(ranges.length, 2, `the footer, then the TOC: ${JSON.stringify(ranges)}`);
    assert.ok(blob.length - FOOTER_SIZE - s.tocOffset < blob.length / 10, 'the TOC range is a small part of the blob, not ending at its end');
  });

  it('a registry that answers 206 gives the same TOC', GUARD, async () => {
    const host = await serve((req, res) => sendRange(req, res, blob));
    assert.equal((await tocOf(host)).tocDigest, result.tocDigest);
  });

  it('a 503 to the TOC request keeps its registry code (ERR_REGISTRY_UNAVAILABLE), not ERR_ESTARGZ_INVALID', GUARD, async () => {
    const host = await serve((req, res) => {
      if (isFooter(req)) return sendRange(req, res, blob);
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
    });
    await assert.rejects(tocOf(host), (err: Error & { code?: string; status?: number }) => {
      assert.equal(err.code, 'ERR_REGISTRY_UNAVAILABLE', err.message);
      assert.equal(err.status, 503);
      return true;
    });
  });

  it('a TOC body cut off by the connection keeps ERR_REGISTRY_UNAVAILABLE, not ERR_ESTARGZ_INVALID', GUARD, async () => {
    const host = await raw((socket) => {
      socket.on('error', () => {});
      let head = '';
      socket.on('data', (b: Buffer) => {
        head += b.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        const m = /range: bytes=(\d+)-(\d+)/i.exec(head)!;
        head = '';
        const [s, e] = [Number(m[1]), Number(m[2])];
        socket.write(`HTTP/1.1 206 Partial Content\r\ncontent-range: bytes ${s}-${e}/${blob.length}\r\ncontent-length: ${e - s + 1}\r\n\r\n`);
        if (s === blob.length - FOOTER_SIZE) socket.write(blob.subarray(s, e + 1));
        else socket.end(blob.subarray(s, s + Math.floor((e - s + 1) / 2)));
      });
    });
    await assert.rejects(tocOf(host), { code: 'ERR_REGISTRY_UNAVAILABLE' });
  });

  it('a 206 to the TOC request with another Content-Range keeps ERR_REGISTRY_PROTOCOL', GUARD, async () => {
    const host = await serve((req, res) => {
      if (isFooter(req)) return sendRange(req, res, blob);
      const [s, e] = rangeOf(req)!;
      res.writeHead(206, { 'content-range': `bytes ${s + 1}-${e + 1}/${blob.length}`, 'content-length': String(e - s + 1) });
      res.end(blob.subarray(s + 1, e + 2));
    });
    await assert.rejects(tocOf(host), { code: 'ERR_REGISTRY_PROTOCOL' });
  });

  it('a read that fails with an error of its own (not a registry one) keeps it', GUARD, async () => {
    const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    const read = async (o: number, n: number): Promise<Buffer> => {
      if (o === blob.length - FOOTER_SIZE) return blob.subarray(o, o + n);
      throw eio;
    };
    await assert.rejects(readToc(read, blob.length), (err) => err === eio);
  });

  it('a TOC member that does not inflate, from a registry, is still ERR_ESTARGZ_INVALID', GUARD, async () => {
    const local = await readToc(async (o, n) => blob.subarray(o, o + n), blob.length);
    const bad = Buffer.from(blob);
    bad.fill(0x55, local.tocOffset, local.tocOffset + 16);
    const host = await serve((req, res) => sendRange(req, res, bad));
    await assert.rejects(tocOf(host), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_ESTARGZ_INVALID', err.message);
      assert.match(err.message, /does not inflate/);
      return true;
    });
  });
});
