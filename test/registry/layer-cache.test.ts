// Issue 13's acceptance "pushing it again uploads no layer bytes" for directory layers: with the layer
// cache, the second push of an unchanged tree sends no PATCH (nor any upload session); a changed file
// is uploaded; a tree changed between the hash pass and the upload is a coded error and no tag.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Image } from '../../src/image/image.js';
import { LayerCache, cachedDirectoryLayer } from '../../src/build/layer-cache.js';
import { pushImage } from '../../src/registry/push.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { registryMissing, skopeoMissing, registryAndProxy } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';

const missing = registryMissing();

describe('pushImage of directory layers with the layer cache (docker-registry)', { skip: missing }, () => {
  const served = registryAndProxy(() => tmp.remove());
  const tmp = tempDir('fastlayer-registry-cache-');
  const src = join(tmp.path, 'src');
  const cache = new LayerCache(join(tmp.path, 'cache'));

  async function image(dir = src): Promise<Image> {
    const app = await cachedDirectoryLayer(join(dir, 'app'), { mtime: 0, prefix: '/app' }, { compressionLevel: 1, cache });
    const data = await cachedDirectoryLayer(join(dir, 'data'), { mtime: 0, prefix: '/data' }, { compressionLevel: 1, cache });
    return new Image({ layers: [app, data], entrypoint: ['/app/bin'] });
  }

  /** Request body bytes and upload sessions during `run`. */
  async function counted<T>(run: () => Promise<T>): Promise<{ result: T; patch: number; put: number; sessions: number }> {
    const patch = served.proxy.bytes.PATCH ?? 0;
    const put = served.proxy.bytes.PUT ?? 0;
    const from = served.proxy.log.length;
    const result = await run();
    await cache.settled();
    const sessions = served.proxy.log.slice(from).filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/')).length;
    return { result, patch: (served.proxy.bytes.PATCH ?? 0) - patch, put: (served.proxy.bytes.PUT ?? 0) - put, sessions };
  }

  /** The two-layer tree the tests push: app/bin (incompressible) and data/table (compressible). */
  function writeTree(dir: string, bin: Uint8Array, table: Uint8Array): void {
    mkdirSync(join(dir, 'app'), { recursive: true });
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'app', 'bin'), bin);
    writeFileSync(join(dir, 'data', 'table'), table);
  }

  async function tags(repo: string): Promise<string[]> {
    const res = await fetch(`http://${served.registry.host}/v2/${repo}/tags/list`);
    if (res.status === 404) return [];
    return ((await res.json()) as { tags: string[] | null }).tags ?? [];
  }

  before(() => {
    writeTree(src, randomBytes(2_000_000, 11), semiCompressible(3_000_000, 12));
  });

  it('the second push of an unchanged tree uploads no layer bytes; skopeo sees the same digest under both tags', async (t) => {
    const first = await counted(async () => pushImage(await image(), `${served.proxy.host}/cache/app:1`));
    const layers = first.result.images[0]!.layers;
    assert.ok(first.patch >= layers[0]!.size + layers[1]!.size, `the first push streamed both layers (${first.patch} PATCH bytes)`);
    const second = await counted(async () => pushImage(await image(), `${served.proxy.host}/cache/app:2`));
    assert.equal(second.result.digest, first.result.digest, 'same image');
    assert.equal(second.patch, 0, 'no PATCH bytes');
    assert.equal(second.sessions, 0, 'no upload session opened: every blob was HEAD-checked and present');
    assert.ok(second.put < 4096, `only manifests were PUT (${second.put} bytes)`);
    assert.deepEqual([...(await tags('cache/app'))].sort(), ['1', '2']);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const one = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${served.registry.host}/cache/app:1`])) as { Digest: string; Layers: string[] };
    const two = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${served.registry.host}/cache/app:2`])) as { Digest: string; Layers: string[] };
    assert.equal(one.Digest, first.result.digest);
    assert.equal(two.Digest, first.result.digest);
    assert.deepEqual(two.Layers, layers.map((l) => l.digest));
  });

  it('a repository that lacks a cached layer gets its bytes, made again from the tree and checked', async (t) => {
    await counted(async () => pushImage(await image(), `${served.proxy.host}/cache/app:1`));
    const other = await counted(async () => pushImage(await image(), `${served.proxy.host}/cache/other:1`));
    const layers = other.result.images[0]!.layers;
    // Known blobs go up as the PUT body (replayable); nothing is streamed into PATCHes.
    assert.ok(other.put >= layers[0]!.size + layers[1]!.size, `both layers uploaded (${other.put} PUT bytes)`);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    // skopeo copy checks every blob's digest.
    skopeo(['copy', '--src-tls-verify=false', `docker://${served.registry.host}/cache/other:1`, `oci:${join(tmp.path, 'copy')}:x`]);
  });

  it('a changed file is a miss: that layer is streamed again, the other is skipped', async () => {
    const tree = join(tmp.path, 'changed');
    writeTree(tree, randomBytes(2_000_000, 11), semiCompressible(3_000_000, 12));
    const base = await counted(async () => pushImage(await image(tree), `${served.proxy.host}/cache/changed:1`));
    writeFileSync(join(tree, 'app', 'bin'), randomBytes(2_000_000, 13));
    const next = await counted(async () => pushImage(await image(tree), `${served.proxy.host}/cache/changed:2`));
    const [app, data] = next.result.images[0]!.layers;
    assert.notEqual(app!.digest, base.result.images[0]!.layers[0]!.digest);
    assert.equal(data!.digest, base.result.images[0]!.layers[1]!.digest);
    assert.ok(next.patch >= app!.size && next.patch < app!.size + data!.size, `only the changed layer was streamed (${next.patch} bytes)`);
  });

  it('hazard: the tree changed between the hash pass and the upload: ERR_REGISTRY_DIGEST_MISMATCH, no tag', async () => {
    const tree = join(tmp.path, 'racy');
    writeTree(tree, randomBytes(1_000_000, 21), semiCompressible(1_000_000, 22));
    await counted(async () => pushImage(await image(tree), `${served.proxy.host}/cache/racy-a:1`));
    const img = await image(tree);
    assert.ok(img.layers.every((l) => l.blob.kind === 'known'), 'both layers hit the cache');
    // Same size, other bytes: only the digest can tell.
    writeFileSync(join(tree, 'app', 'bin'), randomBytes(1_000_000, 23));
    // Caught by fastlayer while the bytes pass (the last chunk held back), not left to the registry.
    await assert.rejects(pushImage(img, `${served.proxy.host}/cache/racy-b:1`), { code: 'ERR_REGISTRY_DIGEST_MISMATCH', message: /did the source change since its digest was computed/ });
    assert.deepEqual(await tags('cache/racy-b'), [], 'no tag points at a half-pushed image');
  });

  it('hazard: same size, other bytes (uncompressed layer): the digest check fails it before the registry has the whole body', async () => {
    const tree = join(tmp.path, 'same-size');
    mkdirSync(tree, { recursive: true });
    writeFileSync(join(tree, 'f'), randomBytes(3_000_000, 31));
    const layer = async (): Promise<Image> => new Image({ layers: [await cachedDirectoryLayer(tree, { mtime: 0 }, { compression: 'none', cache })] });
    const pushed = await counted(async () => pushImage(await layer(), `${served.proxy.host}/cache/same-a:1`));
    const size = pushed.result.images[0]!.layers[0]!.size;
    const img = await layer();
    assert.equal(img.layers[0]!.blob.kind, 'known');
    writeFileSync(join(tree, 'f'), randomBytes(3_000_000, 32));
    const put = served.proxy.bytes.PUT ?? 0;
    await assert.rejects(pushImage(img, `${served.proxy.host}/cache/same-b:1`), { code: 'ERR_REGISTRY_DIGEST_MISMATCH', message: /its source gave bytes with digest sha256:[0-9a-f]{64} \(did the source change/ });
    assert.ok((served.proxy.bytes.PUT ?? 0) - put < size, 'the last chunk was held back: the registry never had the whole body');
    assert.deepEqual(await tags('cache/same-b'), []);
  });
});
