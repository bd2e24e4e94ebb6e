// The layer cache shared through a registry (--cache-repo, registry-cache.ts): a fresh runner with an
// empty local cache pushes an unchanged tree without uploading a layer, a changed file uploads only its
// layer, an entry naming a digest the registry lacks is compressed again (right digest), and two
// writers merging keep both entries.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../../src/build/build.js';
import { RegistryLayerCache, CACHE_TAG, CACHE_TYPE } from '../../src/build/registry-cache.js';
import { LayerCache, type LayerCacheKey } from '../../src/build/layer-cache.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { registryMissing, registryAndProxy } from '../helpers/registry.js';

const missing = registryMissing();

describe('--cache-repo: the layer cache in a registry (docker-registry)', { skip: missing }, () => {
  const served = registryAndProxy(() => tmp.remove());
  const tmp = tempDir('fastlayer-cache-repo-');
  let runs = 0;

  function writeTree(dir: string, bin: Uint8Array, table: Uint8Array): void {
    mkdirSync(join(dir, 'app'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'app', 'bin'), bin);
    writeFileSync(join(dir, 'data', 'table'), table);
  }

  /** A push of `dir`'s two layers from a fresh runner: an empty local cache of its own, unless `localCache` is given. */
  async function push(dir: string, repo: string, cacheRepo: string | undefined, localCache = join(tmp.path, `local-${++runs}`)) {
    const from = served.proxy.log.length;
    const patch = served.proxy.bytes.PATCH ?? 0;
    const result = await buildImage({
      layers: [`${join(dir, 'app')}:/app`, `${join(dir, 'data')}:/data`],
      mtime: 0,
      tags: [],
      destination: new RegistryDestination(`${served.proxy.host}/${repo}:latest`),
      layerOptions: { compressionLevel: 1 },
      layerCache: localCache,
      ...(cacheRepo === undefined ? {} : { cacheRepo: `${served.proxy.host}/${cacheRepo}` }),
      onCacheError: (err) => assert.fail(`cache error: ${String(err)}`),
    });
    const requests = served.proxy.log.slice(from);
    // Upload requests into the pushed repository (sessions, PATCHes, PUTs, mounts).
    const uploads = requests.filter((r) => r.path.startsWith(`/v2/${repo}/blobs/uploads/`));
    return { result, uploads, patch: (served.proxy.bytes.PATCH ?? 0) - patch, localCache };
  }

  /** The keys in a local cache directory (each entry file holds its whole key). */
  function localKeys(dir: string): LayerCacheKey[] {
    return readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => {
      const [diffID, compression, level, mediaType, format, engine, details] = (JSON.parse(readFileSync(join(dir, n), 'utf8')) as { key: unknown[] }).key;
      return { diffID, compression, level, mediaType, format, engine, details } as LayerCacheKey;
    });
  }

  function fakeKey(n: number): LayerCacheKey {
    return { diffID: `sha256:${n.toString(16).padStart(64, '0')}`, compression: 'gzip', level: 1, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', format: 1, engine: 'test', details: {} };
  }
  const digestOf = (n: number): string => `sha256:${(n + 0x1000).toString(16).padStart(64, 'f')}`;


  it('a fresh runner pushing an unchanged tree uploads nothing; a changed file uploads only its layer', async () => {
    const tree = join(tmp.path, 'tree');
    writeTree(tree, randomBytes(1_500_000, 41), semiCompressible(2_000_000, 42));
    const first = await push(tree, 'team/app', 'team/cache');
    assert.ok(first.patch > 0, 'the first push streamed its layers');
    const manifest = await fetch(`http://${served.registry.host}/v2/team/cache/manifests/${CACHE_TAG}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(manifest.status, 200, 'the cache artifact is tagged');
    const m = (await manifest.json()) as { artifactType: string; layers: { mediaType: string }[] };
    assert.equal(m.artifactType, CACHE_TYPE);
    assert.deepEqual(m.layers.map((l) => l.mediaType), [CACHE_TYPE]);

    const second = await push(tree, 'team/app', 'team/cache');
    assert.equal(second.result.digest, first.result.digest, 'same image');
    assert.equal(second.patch, 0, 'no PATCH bytes');
    assert.deepEqual(second.uploads, [], 'no upload request at all: every layer was found by its diffID and HEAD-checked');
    assert.ok(localKeys(second.localCache).length >= 2, 'the remote hits were kept in the local cache too');

    writeFileSync(join(tree, 'app', 'bin'), randomBytes(1_500_000, 43));
    const third = await push(tree, 'team/app', 'team/cache');
    const [app, data] = third.result.images[0]!.layers;
    assert.notEqual(app!.digest, first.result.images[0]!.layers[0]!.digest);
    assert.equal(data!.digest, first.result.images[0]!.layers[1]!.digest);
    assert.ok(third.patch >= app!.size && third.patch < app!.size + data!.size, `only the changed layer was streamed (${third.patch} bytes)`);
  });

  it('a fresh runner pushing to another repository of the registry mounts the layers the cache names', async () => {
    const tree = join(tmp.path, 'mounted');
    writeTree(tree, randomBytes(1_000_000, 51), semiCompressible(1_000_000, 52));
    const first = await push(tree, 'team/one', 'team/cache-m');
    const other = await push(tree, 'team/two', 'team/cache-m');
    assert.equal(other.result.digest, first.result.digest);
    assert.equal(other.patch, 0, 'no layer bytes streamed');
    const mounts = other.uploads.filter((r) => r.method === 'POST' && r.path.includes('mount=') && r.path.includes('from=team%2Fone'));
    assert.equal(mounts.length, 2, `both layers mounted from team/one (${JSON.stringify(other.uploads)})`);
  });

  it('hazard: an entry naming a digest the registry lacks: the layer is compressed again and pushed under its right digest', async () => {
    const tree = join(tmp.path, 'stale');
    writeTree(tree, randomBytes(1_000_000, 61), semiCompressible(1_000_000, 62));
    const first = await push(tree, 'team/stale-a', 'team/cache-s');
    // Every entry rewritten to a digest nobody has (and a repository that lacks it too).
    const poisoned = new RegistryLayerCache(`${served.proxy.host}/team/cache-s`);
    await poisoned.load();
    for (const [i, key] of localKeys(first.localCache).entries()) poisoned.record(key, { digest: digestOf(i), size: 1234 }, 'team/stale-a');
    await poisoned.save();
    const check = new RegistryLayerCache(`${served.proxy.host}/team/cache-s`);
    await check.load();
    assert.equal(check.get(localKeys(first.localCache)[0]!)?.digest, digestOf(0), 'the stale entry is what the cache says');

    const again = await push(tree, 'team/stale-b', 'team/cache-s');
    assert.equal(again.result.digest, first.result.digest, 'the right digests, not the stale ones');
    const layers = again.result.images[0]!.layers;
    assert.ok(again.patch >= layers[0]!.size + layers[1]!.size, `both layers compressed and streamed again (${again.patch} bytes)`);
    const blob = await fetch(`http://${served.registry.host}/v2/team/stale-b/blobs/${layers[0]!.digest}`, { method: 'HEAD' });
    assert.equal(blob.status, 200);
    const fixed = new RegistryLayerCache(`${served.proxy.host}/team/cache-s`);
    await fixed.load();
    assert.equal(fixed.get(localKeys(first.localCache).find((k) => k.diffID === again.result.images[0]!.diffIDs[0])!)?.digest, layers[0]!.digest, 'the entry was corrected');
  });

  it('hazard: a local cache entry naming a digest the destination lacks is not referenced: the layer is compressed again', async () => {
    const tree = join(tmp.path, 'stale-local');
    writeTree(tree, randomBytes(800_000, 71), semiCompressible(800_000, 72));
    const first = await push(tree, 'team/local-a', undefined);
    const cache = new LayerCache(first.localCache);
    for (const [i, key] of localKeys(first.localCache).entries()) await cache.set(key, { digest: digestOf(i), size: 999 });
    const again = await push(tree, 'team/local-a', undefined, first.localCache);
    assert.equal(again.result.digest, first.result.digest, 'the right digests');
    const layers = again.result.images[0]!.layers;
    assert.ok(again.patch >= layers[0]!.size + layers[1]!.size, `both layers streamed again (${again.patch} bytes)`);
    const entries = readdirSync(first.localCache).filter((n) => n.endsWith('.json')).map((n) => (JSON.parse(readFileSync(join(first.localCache, n), 'utf8')) as { digest: string }).digest);
    assert.deepEqual(entries.sort(), layers.map((l) => l.digest).sort(), 'the stale entries were replaced by the right ones');
  });

  it('hazard: a local entry with the right digest but another size is not used: the manifest lists the real size', async () => {
    const tree = join(tmp.path, 'wrong-size-local');
    writeTree(tree, randomBytes(600_000, 73), semiCompressible(600_000, 74));
    const first = await push(tree, 'team/size-a', undefined);
    const cache = new LayerCache(first.localCache);
    const real = first.result.images[0]!.layers;
    for (const key of localKeys(first.localCache)) {
      const e = (await cache.get(key))!;
      await cache.set(key, { digest: e.digest, size: e.size + 1000 });
    }
    const again = await push(tree, 'team/size-a', undefined, first.localCache);
    assert.equal(again.result.digest, first.result.digest, 'the same manifest: the real sizes');
    assert.deepEqual(again.result.images[0]!.layers.map((l) => l.size), real.map((l) => l.size));
    const sizes = await Promise.all(localKeys(first.localCache).map(async (k) => (await cache.get(k))!.size));
    assert.deepEqual(sizes.sort(), real.map((l) => l.size).sort(), 'the wrong entries were replaced');
  });

  it('hazard: a shared entry with the right digest but another size is neither mounted nor used', async () => {
    const tree = join(tmp.path, 'wrong-size-shared');
    writeTree(tree, randomBytes(600_000, 75), semiCompressible(600_000, 76));
    const first = await push(tree, 'team/size-one', 'team/cache-size');
    const poisoned = new RegistryLayerCache(`${served.proxy.host}/team/cache-size`);
    await poisoned.load();
    for (const key of localKeys(first.localCache)) {
      const e = poisoned.get(key)!;
      poisoned.record(key, { digest: e.digest, size: e.size + 1000 }, 'team/size-one');
    }
    await poisoned.save();
    const other = await push(tree, 'team/size-two', 'team/cache-size');
    assert.equal(other.result.digest, first.result.digest, 'the real sizes in the manifest');
    assert.deepEqual(other.uploads.filter((r) => r.path.includes('mount=')), [], 'nothing mounted on the word of a wrong entry');
    const fixed = new RegistryLayerCache(`${served.proxy.host}/team/cache-size`);
    await fixed.load();
    const real = first.result.images[0]!.layers.map((l) => l.size).sort();
    assert.deepEqual(localKeys(first.localCache).map((k) => fixed.get(k)!.size).sort(), real, 'the shared entries were corrected');
  });

  it('two writers that read the same document and write one after the other keep both entries', async () => {
    const repo = `${served.proxy.host}/team/cache-merge`;
    const a = new RegistryLayerCache(repo);
    const b = new RegistryLayerCache(repo);
    await a.load();
    await b.load();
    a.record(fakeKey(1), { digest: digestOf(1), size: 10 });
    b.record(fakeKey(2), { digest: digestOf(2), size: 20 });
    await a.save();
    await b.save();
    const c = new RegistryLayerCache(repo);
    await c.load();
    assert.equal(c.get(fakeKey(1))?.digest, digestOf(1), "the first writer's entry survived the second write");
    assert.equal(c.get(fakeKey(2))?.digest, digestOf(2));
    assert.equal(c.size, 2);
  });

  it('the document is bounded: beyond maxEntries the oldest entries are dropped', async () => {
    const repo = `${served.proxy.host}/team/cache-cap`;
    const old = new RegistryLayerCache(repo, { maxEntries: 3 });
    for (const n of [1, 2]) old.record(fakeKey(n), { digest: digestOf(n), size: n });
    await old.save();
    await new Promise((r) => setTimeout(r, 5));
    const next = new RegistryLayerCache(repo, { maxEntries: 3 });
    for (const n of [3, 4]) next.record(fakeKey(n), { digest: digestOf(n), size: n });
    await next.save();
    const c = new RegistryLayerCache(repo);
    await c.load();
    assert.equal(c.size, 3);
    assert.equal(c.get(fakeKey(3))?.digest, digestOf(3));
    assert.equal(c.get(fakeKey(4))?.digest, digestOf(4));
    assert.equal([c.get(fakeKey(1)), c.get(fakeKey(2))].filter((e) => e !== undefined).length, 1, 'one of the two oldest was dropped');
  });

  it('hazard: a tag whose document blob was deleted is an empty cache, not an error, and the next save repairs it', async () => {
    const repo = `${served.proxy.host}/team/cache-gone`;
    const w = new RegistryLayerCache(repo);
    w.record(fakeKey(8), { digest: digestOf(8), size: 8 });
    await w.save();
    const manifest = (await (await fetch(`http://${served.registry.host}/v2/team/cache-gone/manifests/${CACHE_TAG}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[] };
    const del = await fetch(`http://${served.registry.host}/v2/team/cache-gone/blobs/${manifest.layers[0]!.digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202);
    const r = new RegistryLayerCache(repo);
    await r.load();
    assert.equal(r.size, 0);
    r.record(fakeKey(9), { digest: digestOf(9), size: 9 });
    await r.save();
    const c = new RegistryLayerCache(repo);
    await c.load();
    assert.equal(c.get(fakeKey(9))?.digest, digestOf(9), 'the document was written again');
  });

  it('a corrupt or foreign document under the tag is an empty cache, not an error', async () => {
    const repo = `${served.proxy.host}/team/cache-foreign`;
    const w = new RegistryLayerCache(repo);
    w.record(fakeKey(7), { digest: 'sha256:' + 'a'.repeat(64), size: 1 });
    await w.save();
    // Another tool's image under the same tag.
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }, layers: [] }));
    const put = await fetch(`http://${served.registry.host}/v2/team/cache-foreign/manifests/${CACHE_TAG}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body });
    assert.equal(put.status, 201);
    const r = new RegistryLayerCache(repo);
    await r.load();
    assert.equal(r.size, 0);
    assert.throws(() => new RegistryLayerCache(`${repo}:v1`), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
});
