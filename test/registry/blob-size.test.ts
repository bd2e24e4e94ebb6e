// A blob the registry holds counts as the descriptor's only with the descriptor's size (the HEAD's
// Content-Length): a layer cache entry with a wrong size must never put that size in a manifest. A
// HEAD without a length cannot show it, and counts as the blob (as before the size was checked).
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
 * A registry whose HEAD answers 200 with `length` (undefined: no Content-Length; null: 404), after a
 * mount with `afterMount` ('none': no Content-Length; absent: as before), whose mount POST answers
 * 201, and which takes uploads. `requests` lists method and path.
 */
async function registry(length: number | undefined | null, afterMount?: number | 'none' | null) {
  const requests: string[] = [];
  let mounted = false;
  const host = await servers.http((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'HEAD') {
      const l = mounted && afterMount !== undefined ? (afterMount === 'none' ? undefined : afterMount) : length;
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
  it('has() is true only when the Content-Length is the descriptor\'s size (or absent)', async () => {
    const blob = bufferBlob(BYTES, LAYER);
    for (const [length, want] of [[BYTES.length, true], [BYTES.length + 1000, false], [BYTES.length - 1, false], [undefined, true], [null, false]] as const) {
      const { host } = await registry(length);
      assert.equal(await new RegistryDestination(`${host}/app:v1`, options).has(blob.descriptor), want, `Content-Length ${length}`);
    }
  });

  it('writeBlob of a known blob the registry holds with another size uploads it: a wrong descriptor fails coded, a wrong HEAD costs one upload', async () => {
    {
      const { host, requests } = await registry(BYTES.length);
      const wrong = bufferBlob(BYTES, LAYER, { descriptor: { mediaType: LAYER, digest: digestOf(BYTES), size: BYTES.length + 1000 } });
      await assert.rejects(new RegistryDestination(`${host}/app:v1`, options).writeBlob(wrong), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
      assert.ok(!requests.some((r) => r.startsWith('PUT ')), `the upload is never closed: ${JSON.stringify(requests)}`);
    }
    {
      // A proxy's HEAD of another length: the right bytes go up once, and the write succeeds.
      const { host, requests } = await registry(0);
      const events: ProgressEvent['state'][] = [];
      await new RegistryDestination(`${host}/app:v1`, { ...options, onProgress: (e) => events.push(e.state) }).writeBlob(bufferBlob(BYTES, LAYER));
      assert.equal(uploads(requests).length, 2, JSON.stringify(requests));
      assert.equal(events.at(-1), 'done');
    }
  });

  it('a HEAD without Content-Length counts as the blob: nothing uploaded', async () => {
    const { host, requests } = await registry(undefined);
    const events: ProgressEvent['state'][] = [];
    await new RegistryDestination(`${host}/app:v1`, { ...options, onProgress: (e) => events.push(e.state) }).writeBlob(bufferBlob(BYTES, LAYER));
    assert.deepEqual(uploads(requests), []);
    assert.equal(events.at(-1), 'exists');
  });

  it('a mount answered 201 is confirmed by one HEAD: another size is uploaded (and a wrong descriptor fails coded), the right one or none is "mounted"', async () => {
    const origin = { registry: '', repository: 'base/app' };
    const wrongSize = { mediaType: LAYER, digest: digestOf(BYTES), size: BYTES.length + 7 };
    {
      const { host, requests } = await registry(null, BYTES.length);
      const blob = bufferBlob(BYTES, LAYER, { descriptor: wrongSize, origin: { ...origin, registry: host } });
      await assert.rejects(new RegistryDestination(`${host}/app:v1`, options).writeBlob(blob), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
      assert.ok(requests.some((r) => r.includes('mount=')), JSON.stringify(requests));
      assert.ok(!requests.some((r) => r.startsWith('PUT ')), JSON.stringify(requests));
    }
    for (const afterMount of [BYTES.length, 'none'] as const) {
      const { host, requests } = await registry(null, afterMount);
      const events: ProgressEvent['state'][] = [];
      const blob = bufferBlob(BYTES, LAYER, { origin: { ...origin, registry: host } });
      await new RegistryDestination(`${host}/app:v1`, { ...options, onProgress: (e) => events.push(e.state) }).writeBlob(blob);
      assert.deepEqual(events, ['mounted'], `HEAD length ${afterMount}: ${JSON.stringify(requests)}`);
      assert.deepEqual(uploads(requests), []);
    }
  });
});
