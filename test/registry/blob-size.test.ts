// A blob the registry holds counts as the descriptor's only with the descriptor's size (the HEAD's
// Content-Length): a layer cache entry with a wrong size must never put that size in a manifest.
// Fake registries, so the lengths a real one would never send can be sent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryDestination, type ProgressEvent } from '../../src/registry/destination.js';
import { bufferBlob, digestOf } from '../helpers/registry-image.js';
import { testServers } from '../helpers/http-servers.js';

const servers = testServers();
const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const BYTES = Buffer.from('the blob the descriptor names');
const options = { credentials: null, retryDelay: 1, retries: 0 };

/**
 * A registry whose HEAD answers 200 with `length` (undefined: no Content-Length; null: 404), whose
 * mount POST answers 201, and which takes uploads. `requests` lists method and path.
 */
async function registry(length: number | undefined | null, afterMount: number | undefined | null = length) {
  const requests: string[] = [];
  let mounted = false;
  const host = await servers.http((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'HEAD') {
      const l = mounted ? afterMount : length;
      if (l === null) return void res.writeHead(404).end();
      return void res.writeHead(200, l === undefined ? {} : { 'content-length': l }).end();
    }
    if (req.method === 'POST' && (req.url ?? '').includes('mount=')) {
      mounted = true;
      return void res.writeHead(201, { location: `/v2/app/blobs/${digestOf(BYTES)}`, 'docker-content-digest': digestOf(BYTES) }).end();
    }
    if (req.method === 'POST') return void res.writeHead(202, { location: '/v2/app/blobs/uploads/1' }).end();
    if (req.method === 'PUT') return void req.on('end', () => res.writeHead(201, { 'docker-content-digest': digestOf(BYTES) }).end());
    if (req.method === 'DELETE') return void res.writeHead(204).end();
    res.writeHead(405).end();
  });
  return { host, requests };
}

const uploads = (requests: string[]): string[] => requests.filter((r) => r.startsWith('PUT ') || (r.startsWith('POST ') && !r.includes('mount=')));

describe('hazard: a registry copy of another length is not the descriptor\'s blob', () => {
  it('has() is true only when the Content-Length is the descriptor\'s size', async () => {
    const blob = bufferBlob(BYTES, LAYER);
    for (const [length, want] of [[BYTES.length, true], [BYTES.length + 1000, false], [BYTES.length - 1, false], [undefined, false], [null, false]] as const) {
      const { host } = await registry(length);
      assert.equal(await new RegistryDestination(`${host}/app:v1`, options).has(blob.descriptor), want, `Content-Length ${length}`);
    }
  });

  it('writeBlob of a known blob the registry holds with another size: ERR_REGISTRY_DIGEST_MISMATCH, nothing uploaded', async () => {
    const { host, requests } = await registry(BYTES.length);
    const wrong = bufferBlob(BYTES, LAYER, { descriptor: { mediaType: LAYER, digest: digestOf(BYTES), size: BYTES.length + 1000 } });
    await assert.rejects(new RegistryDestination(`${host}/app:v1`, options).writeBlob(wrong), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_REGISTRY_DIGEST_MISMATCH', String(err));
      assert.match(err.message, new RegExp(`holds blob ${digestOf(BYTES)} with ${BYTES.length} bytes, its descriptor says ${BYTES.length + 1000}`));
      return true;
    });
    assert.deepEqual(uploads(requests), []);
  });

  it('a HEAD without Content-Length does not skip the blob: its bytes are uploaded (and checked)', async () => {
    const { host, requests } = await registry(undefined);
    const events: ProgressEvent['state'][] = [];
    await new RegistryDestination(`${host}/app:v1`, { ...options, onProgress: (e) => events.push(e.state) }).writeBlob(bufferBlob(BYTES, LAYER));
    assert.equal(uploads(requests).length, 2, JSON.stringify(requests));
    assert.equal(events.at(-1), 'done');
    // The descriptor's bytes checked while they are sent: a wrong size fails coded.
    const wrong = bufferBlob(BYTES, LAYER, { descriptor: { mediaType: LAYER, digest: digestOf(BYTES), size: BYTES.length - 1 } });
    await assert.rejects(new RegistryDestination(`${host}/app:v1`, options).writeBlob(wrong), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
  });

  it('a mount answered 201 is confirmed by one HEAD: another size fails coded, the right one is "mounted"', async () => {
    const origin = { registry: '', repository: 'base/app' };
    const wrongSize = { mediaType: LAYER, digest: digestOf(BYTES), size: BYTES.length + 7 };
    {
      const { host, requests } = await registry(null, BYTES.length);
      const blob = bufferBlob(BYTES, LAYER, { descriptor: wrongSize, origin: { ...origin, registry: host } });
      await assert.rejects(new RegistryDestination(`${host}/app:v1`, options).writeBlob(blob), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
      assert.ok(requests.some((r) => r.includes('mount=')), JSON.stringify(requests));
      assert.deepEqual(uploads(requests), []);
    }
    {
      const { host, requests } = await registry(null, BYTES.length);
      const events: ProgressEvent['state'][] = [];
      const blob = bufferBlob(BYTES, LAYER, { origin: { ...origin, registry: host } });
      await new RegistryDestination(`${host}/app:v1`, { ...options, onProgress: (e) => events.push(e.state) }).writeBlob(blob);
      assert.deepEqual(events, ['mounted']);
      assert.deepEqual(uploads(requests), []);
    }
    {
      // A registry that mounted but shows no length: the bytes are sent and checked.
      const { host, requests } = await registry(null, undefined);
      const blob = bufferBlob(BYTES, LAYER, { origin: { ...origin, registry: host } });
      await new RegistryDestination(`${host}/app:v1`, options).writeBlob(blob);
      assert.equal(uploads(requests).length, 2, JSON.stringify(requests));
    }
  });
});
