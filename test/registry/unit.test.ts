// Registry pieces that need no registry: Location handling, error decoding and redaction, scheme
// choice, platform choice, inputs refused at the boundary.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { location, withDigest } from '../../src/registry/upload.js';
import { Transport } from '../../src/registry/transport.js';
import { isLoopback } from '../../src/registry/hosts.js';
import { Authenticator } from '../../src/registry/auth.js';
import { ErrRegistryUnavailable, decodeErrors, redactUrl, scrub, describeCause } from '../../src/registry/errors.js';
import { parsePlatform } from '../../src/image/platform.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { pull, pullToDestination } from '../../src/registry/pull.js';
import { imageManifest } from '../../src/registry/parse.js';
import { archiveStore } from '../../src/layout/store.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tree.js';
import { collect } from '../helpers/layer.js';

function res(headers: Record<string, string>, status = 202): Response {
  return new Response(null, { status, headers });
}

describe('Location', () => {
  const request = new URL('https://r.example/v2/app/blobs/uploads/');
  it('resolves relative, absolute and out-of-/v2 locations against the request URL', () => {
    assert.equal(location(res({ location: '/v2/app/blobs/uploads/u1?_state=a' }), request).href, 'https://r.example/v2/app/blobs/uploads/u1?_state=a');
    assert.equal(location(res({ location: 'u2' }), request).href, 'https://r.example/v2/app/blobs/uploads/u2');
    assert.equal(location(res({ location: 'https://upload.example/x/y?sig=1#frag' }), request).href, 'https://upload.example/x/y?sig=1');
    assert.equal(location(res({ location: '/other/place' }), request).href, 'https://r.example/other/place');
  });
  it('a response without Location is ERR_REGISTRY_PROTOCOL', () => {
    assert.throws(() => location(res({}), request), { code: 'ERR_REGISTRY_PROTOCOL' });
  });
  it('digest= is appended with & after an existing query, kept byte for byte', () => {
    const d = `sha256:${'a'.repeat(64)}`;
    assert.equal(withDigest(new URL('https://r/v2/u?_state=ab%3D%3D&x=~y'), d).href, `https://r/v2/u?_state=ab%3D%3D&x=~y&digest=sha256%3A${'a'.repeat(64)}`);
    assert.equal(withDigest(new URL('https://r/v2/u'), d).href, `https://r/v2/u?digest=sha256%3A${'a'.repeat(64)}`);
    assert.equal(withDigest(new URL('https://r/v2/u?'), d).href, `https://r/v2/u?digest=sha256%3A${'a'.repeat(64)}`);
  });
});

describe('errors and redaction', () => {
  it('decodes the OCI error body and ignores junk', () => {
    assert.deepEqual(decodeErrors('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown","detail":{"digest":"x"}}]}'), [
      { code: 'BLOB_UNKNOWN', message: 'blob unknown', detail: { digest: 'x' } },
    ]);
    assert.deepEqual(decodeErrors('<html>'), []);
    assert.deepEqual(decodeErrors('{"errors":"no"}'), []);
    assert.deepEqual(decodeErrors('{"errors":[null,1,{"message":3}]}'), [{ code: 'UNKNOWN', message: '' }]);
  });
  it('URLs lose user-info and query in messages', () => {
    assert.equal(redactUrl('https://user:pw@r.example/v2/x?X-Amz-Signature=secret'), 'https://r.example/v2/x?…');
    assert.equal(scrub('failed at https://u:p@cdn.example/blob?sig=s3cr3t now'), 'failed at https://cdn.example/blob?… now');
    const err = new ErrRegistryUnavailable(`GET failed: ${describeCause(new TypeError('fetch failed', { cause: new Error('connect to https://a:b@h/?token=zzz') }))}`);
    assert.ok(!inspect(err).includes('zzz') && !JSON.stringify(err).includes('zzz'));
  });
});

describe('scheme and inputs', () => {
  it('https unless insecure or loopback', () => {
    const auth = new Authenticator('x', { credentials: null });
    assert.equal(new Transport('registry.example', auth).base.protocol, 'https:');
    assert.equal(new Transport('registry.example:5000', auth, { insecure: true }).base.protocol, 'http:');
    for (const h of ['localhost:5000', '127.0.0.1:5000', '[::1]:5000', '127.1.2.3']) assert.equal(new Transport(h, auth).base.protocol, 'http:', h);
    assert.equal(isLoopback('127.0.0.1.nip.io'), false);
    assert.equal(isLoopback('localhost.evil.example'), false);
  });
  it('Docker Hub names go to registry-1.docker.io', () => {
    const dest = new RegistryDestination('alpine');
    assert.equal(dest.reference.toString(), 'docker.io/library/alpine:latest');
  });
  it('bad options and platforms are refused with coded errors', () => {
    assert.throws(() => new RegistryDestination('127.0.0.1:1/a', { concurrency: 0 }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new RegistryDestination('127.0.0.1:1/a', { chunkSize: 10 }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new RegistryDestination('UPPER/case'), { code: 'ERR_INVALID_REFERENCE' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.throws(() => parsePlatform('linux'), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
  it('pull() refuses a malformed platform before any request (one parsePlatform for every caller)', async () => {
    await assert.rejects(pull('127.0.0.1:1/never/contacted:1', { platform: 'linux' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    await assert.rejects(pullToDestination('127.0.0.1:1/never/contacted:1', new RegistryDestination('127.0.0.1:1/x:1'), { platform: 'Linux/AMD64' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
  it('hostile manifest descriptors are refused before they name a URL or a path', () => {
    const bad = (layer: object): Buffer => Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 1 }, layers: [layer] }));
    assert.throws(() => imageManifest(bad({ mediaType: 'x', digest: 'sha256:../../etc/passwd', size: 1 }), 'm'), { code: 'ERR_REGISTRY_PROTOCOL' });
    assert.throws(() => imageManifest(bad({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: -1 }), 'm'), { code: 'ERR_REGISTRY_PROTOCOL' });
    assert.throws(() => imageManifest(bad({ mediaType: 'x', digest: `sha256:${'0'.repeat(64)}`, size: 2 ** 60 }), 'm'), { code: 'ERR_REGISTRY_PROTOCOL' });
  });
});

describe('archive store (an OCI layout inside a tar)', () => {
  it('indexes ustar, GNU long names and PAX paths; reads ranges; refuses a truncated or corrupt archive', async (t) => {
    if (spawnSync('tar', ['--version']).status !== 0) return t.skip('tar is not installed');
    const tmp = tempDir();
    try {
      const src = join(tmp.path, 'src');
      const long = `${'d'.repeat(120)}/blob`;
      mkdirSync(join(src, 'd'.repeat(120)), { recursive: true });
      writeFileSync(join(src, 'index.json'), '{"a":1}');
      writeFileSync(join(src, long), Buffer.alloc(5000, 7));
      writeFileSync(join(src, 'empty'), '');
      for (const format of ['ustar', 'gnu', 'pax']) {
        const archive = join(tmp.path, `${format}.tar`);
        const names = format === 'ustar' ? ['./index.json', './empty'] : ['./index.json', './empty', `./${long}`];
        assert.equal(spawnSync('tar', [`--format=${format}`, '-cf', archive, '-C', src, ...names]).status, 0);
        const store = await archiveStore(archive);
        assert.equal((await store.read('index.json', 100)).toString(), '{"a":1}');
        assert.equal(await store.size('empty'), 0);
        assert.deepEqual(await collect(store.open('empty')), Buffer.alloc(0));
        if (format !== 'ustar') assert.deepEqual(await collect(store.open(long)), Buffer.alloc(5000, 7));
        await assert.rejects(store.read('index.json', 3), { code: 'ERR_LAYOUT_INVALID' });
        assert.equal(await store.size('missing'), undefined);
      }
      const archive = join(tmp.path, 'gnu.tar');
      const corrupt = join(tmp.path, 'corrupt.tar');
      const bytes = readFileSync(archive);
      bytes[10] ^= 0xff;
      writeFileSync(corrupt, bytes);
      await assert.rejects(archiveStore(corrupt), { code: 'ERR_LAYOUT_INVALID' });
      truncateSync(archive, 1000);
      await assert.rejects(archiveStore(archive), { code: 'ERR_LAYOUT_INVALID' });
    } finally {
      tmp.remove();
    }
  });
});
