// Push and pull against a real registry (docker-registry, no auth), read back by skopeo.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Layer } from '../../src/layer/layer.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { pull, pullToDestination } from '../../src/registry/pull.js';
import { pushArchive, pushLayout } from '../../src/registry/layout.js';
import { spawnSync } from 'node:child_process';
import { ErrRegistryNotFound } from '../../src/registry/errors.js';
import { headManifest } from '../../src/registry/manifest.js';
import { connect, pullScope } from '../../src/registry/client.js';
import { gzipSync } from 'node:zlib';
import { randomBytes } from '../helpers/data.js';
import { collect } from '../helpers/layer.js';
import { SYSTEM_DIRS, tempDir } from '../helpers/tree.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { registryMissing, skopeoMissing, startRegistry, type RunningRegistry, withProxy } from '../helpers/registry.js';
import { bufferBlob, digestOf, skopeo, streaming, writeTestImage } from '../helpers/registry-image.js';

const missing = registryMissing();
const noSkopeo = skopeoMissing();

/** Compressible and incompressible parts, a few MB: several PATCH-worth of bytes in chunked mode. */
function payload(seed: number): Buffer {
  return Buffer.concat([randomBytes(1_500_000, seed), Buffer.alloc(2_000_000, 'fastlayer '), randomBytes(700_001, seed + 1)]);
}

describe('registry push and pull (docker-registry, no auth)', { skip: missing }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  const data = payload(7);
  let pushed: Awaited<ReturnType<typeof writeTestImage>>;
  const ref = (): string => `${registry.host}/fastlayer/app:v1`;

  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('streams a layer into one PATCH and tags the image last; the registry serves it back byte for byte', async () => {
    const events: { state: string; bytes: number }[] = [];
    const dest = new RegistryDestination(ref(), { onProgress: (e) => events.push({ state: e.state, bytes: e.bytes }) });
    pushed = await writeTestImage(dest, [streaming(new Layer(data, { compressionLevel: 1 }))]);
    const image = await pull(ref());
    assert.equal(image.manifest.descriptor.digest, pushed.manifest.descriptor.digest);
    assert.deepEqual(image.manifest.bytes, pushed.manifest.bytes);
    assert.equal(image.layers.length, 1);
    const gz = await collect(image.layers[0]!.open());
    assert.equal(digestOf(gz), pushed.layers[0]!.digest);
    assert.deepEqual(gunzipSync(gz), data);
    assert.deepEqual(await collect(image.config.open()), await collect(pushed.config.open()));
    assert.equal(image.layers[0]!.origin?.repository, 'fastlayer/app');
    const repo = connect(ref());
    const target = { transport: repo.transport, repository: repo.repository, scopes: [pullScope(repo.repository)] };
    assert.deepEqual(await headManifest(target, 'v1'), pushed.manifest.descriptor);
    assert.equal(await headManifest(target, 'absent'), undefined);
    const done = events.filter((e) => e.state === 'done');
    assert.ok(done.some((e) => e.bytes === pushed.layers[0]!.size), 'a done event carries the layer size');
  });

  it('skopeo inspects the pushed image and copies it to an OCI layout with matching digests', { skip: noSkopeo }, () => {
    const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref()}`])) as { Digest: string; Layers: string[] };
    assert.equal(info.Digest, pushed.manifest.descriptor.digest);
    assert.deepEqual(info.Layers, [pushed.layers[0]!.digest]);
    const dir = join(tmp.path, 'copied');
    skopeo(['copy', '--src-tls-verify=false', `docker://${ref()}`, `oci:${dir}:v1`]);
    const blob = join(dir, 'blobs', 'sha256', pushed.layers[0]!.digest.slice(7));
    assert.ok(existsSync(blob));
    assert.deepEqual(gunzipSync(readFileSync(blob)), data);
  });

  it('pushing the same image again from a layout uploads no blob bytes (HEAD, then skip)', { skip: noSkopeo }, async () => {
    await withProxy(registry.port, async (proxy) => {
      const dir = join(tmp.path, 'copied');
      // skopeo rewrote manifest and config for OCI: the first push sends those, never the layer.
      await pushLayout(dir, `${proxy.host}/fastlayer/app:again`);
      assert.equal(proxy.bytes.PATCH ?? 0, 0);
      assert.ok((proxy.bytes.PUT ?? 0) < 10_000, `${proxy.bytes.PUT} bytes PUT`);
      proxy.bytes.PUT = 0;
      proxy.log.length = 0;
      const top = await pushLayout(dir, `${proxy.host}/fastlayer/app:again`);
      assert.equal(proxy.bytes.PATCH ?? 0, 0);
      assert.equal(proxy.log.filter((l) => l.method === 'POST').length, 0, 'no upload session opened');
      assert.equal(proxy.bytes.PUT, 2 * top.size, 'only the manifest went up, by digest and by tag');
      assert.ok(proxy.log.some((l) => l.method === 'HEAD' && l.path.includes('/blobs/')));
      const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${registry.host}/fastlayer/app:again`])) as { Digest: string };
      assert.equal(info.Digest, top.digest);
    });
  });

  it('a pulled image pushed to another repository mounts its blobs instead of uploading them', async () => {
    await withProxy(registry.port, async (proxy) => {
      const top = await pullToDestination(`${proxy.host}/fastlayer/app:v1`, new RegistryDestination(`${proxy.host}/other/copy:v1`));
      assert.equal(top.descriptor.digest, pushed.manifest.descriptor.digest);
      const mounts = proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount='));
      assert.equal(mounts.length, 2, 'layer and config mounted');
      assert.equal(proxy.bytes.PATCH ?? 0, 0);
      const copy = await pull(`${registry.host}/other/copy:v1`);
      assert.deepEqual(gunzipSync(await collect(copy.layers[0]!.open())), data);
    });
  });

  it('a mount the registry answers with 202 goes on as a normal upload in the session it opened', async () => {
    await withProxy(registry.port, async (proxy) => {
      const bytes = Buffer.from('never in the source repository');
      const blob = bufferBlob(bytes, 'application/vnd.oci.image.layer.v1.tar', { origin: { registry: proxy.host, repository: 'nowhere/source' } });
      const d = await new RegistryDestination(`${proxy.host}/fastlayer/mount202:v1`).writeBlob(blob);
      assert.equal(d.digest, digestOf(bytes));
      const posts = proxy.log.filter((l) => l.method === 'POST');
      assert.equal(posts.length, 1, 'no second session');
      assert.match(posts[0]!.path, /mount=sha256%3A[a-f0-9]{64}&from=nowhere%2Fsource$/);
      assert.ok(proxy.log.some((l) => l.method === 'PUT' && l.path.includes('digest=')));
      const res = await fetch(`http://${registry.host}/v2/fastlayer/mount202/blobs/${d.digest}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
    });
  });

  it('chunked mode PATCHes Content-Range pieces and produces the same blob', async () => {
    await withProxy(registry.port, async (proxy) => {
      const chunked = `${proxy.host}/fastlayer/chunked:v1`;
      const layer = new Layer(payload(9), { compressionLevel: 1 });
      const result = await writeTestImage(new RegistryDestination(chunked, { chunkSize: 256 * 1024 }), [streaming(layer)]);
      const patches = proxy.log.filter((l) => l.method === 'PATCH').length;
      assert.ok(patches >= Math.ceil(result.layers[0]!.size / (256 * 1024)), `${patches} PATCHes for ${result.layers[0]!.size} bytes`);
      const image = await pull(chunked);
      assert.equal(digestOf(await collect(image.layers[0]!.open())), result.layers[0]!.digest);
    });
  });

  it('a pushed OCI layout of skopeo is read back by skopeo', { skip: noSkopeo }, async () => {
    const dir = join(tmp.path, 'copied');
    const top = await pushLayout(dir, `${registry.host}/fromlayout/app:v2`);
    const out = join(tmp.path, 'again');
    skopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/fromlayout/app:v2`, `oci:${out}`]);
    const names = readdirSync(join(out, 'blobs', 'sha256'));
    assert.ok(names.includes(top.digest.slice(7)));
  });

  it('an OCI layout inside a tar archive (GNU and PAX formats) is pushed without extracting it', { skip: noSkopeo }, async () => {
    const dir = join(tmp.path, 'copied');
    for (const format of ['gnu', 'pax']) {
      const archive = join(tmp.path, `layout-${format}.tar`);
      const tar = spawnSync('tar', [`--format=${format}`, '-cf', archive, '-C', dir, '.']);
      assert.equal(tar.status, 0, tar.stderr.toString());
      const ref = `${registry.host}/fromarchive/${format}:v1`;
      const top = await pushArchive(archive, ref);
      const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${ref}`])) as { Digest: string; Layers: string[] };
      assert.equal(info.Digest, top.digest);
      assert.deepEqual(info.Layers, [pushed.layers[0]!.digest]);
      const image = await pull(ref);
      assert.deepEqual(gunzipSync(await collect(image.layers[0]!.open())), data);
    }
  });

  it('an OCI layout holding an index is pushed children first; pull chooses the platform asked for', async () => {
    const dir = join(tmp.path, 'multi');
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    const put = (bytes: Buffer, mediaType: string): { mediaType: string; digest: string; size: number } => {
      const digest = digestOf(bytes);
      writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
      return { mediaType, digest, size: bytes.length };
    };
    const children = ['amd64', 'arm64'].map((arch) => {
      const tar = Buffer.from(`a tar for ${arch} `.repeat(500));
      const layer = put(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
      const config = put(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(tar)] } })), 'application/vnd.oci.image.config.v1+json');
      const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] })), 'application/vnd.oci.image.manifest.v1+json');
      return { ...manifest, platform: { os: 'linux', architecture: arch }, layer };
    });
    const index = put(
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children.map(({ layer: _l, ...d }) => d) })),
      'application/vnd.oci.image.index.v1+json',
    );
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...index, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
    const top = await pushLayout(dir, `${registry.host}/fastlayer/multi:v1`);
    assert.equal(top.digest, index.digest);
    const arm = await pull(`${registry.host}/fastlayer/multi:v1`, { platform: 'linux/arm64' });
    assert.equal(arm.index?.descriptor.digest, index.digest);
    assert.equal(arm.manifest.descriptor.digest, children[1]!.digest);
    assert.equal(digestOf(await collect(arm.layers[0]!.open())), children[1]!.layer.digest);
    const amd = await pull(`${registry.host}/fastlayer/multi:v1`, { platform: { os: 'linux', architecture: 'amd64' } });
    assert.equal(amd.manifest.descriptor.digest, children[0]!.digest);
    await assert.rejects(pull(`${registry.host}/fastlayer/multi:v1`, { platform: 'linux/s390x' }), { code: 'ERR_REGISTRY_NOT_FOUND' });
  });

  it('a layout missing a blob is ERR_LAYOUT_INVALID before anything is tagged', async () => {
    const dir = join(tmp.path, 'multi');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const broken = join(tmp.path, 'broken');
    mkdirSync(join(broken, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(broken, 'index.json'), JSON.stringify(index));
    const hex = index.manifests[0]!.digest.slice(7);
    writeFileSync(join(broken, 'blobs', 'sha256', hex), readFileSync(join(dir, 'blobs', 'sha256', hex)));
    await assert.rejects(pushLayout(broken, `${registry.host}/fastlayer/broken:v1`), { code: 'ERR_LAYOUT_INVALID' });
    await assert.rejects(pull(`${registry.host}/fastlayer/broken:v1`), { code: 'ERR_REGISTRY_NOT_FOUND' });
  });

  it('hazard: a streamed layer is never held whole in memory (fetch must not tee the PATCH body)', async () => {
    const chunk = 1024 * 1024;
    const count = 160;
    async function* incompressible(): AsyncGenerator<Buffer> {
      for (let i = 0; i < count; i++) yield randomBytes(chunk, 1000 + i);
    }
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 10);
    try {
      const layer = new Layer(incompressible(), { compressionLevel: 1 });
      const d = await new RegistryDestination(`${registry.host}/fastlayer/big:v1`).writeBlob(streaming(layer));
      assert.ok(d.size > count * chunk, 'incompressible: the compressed stream is larger than the input');
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak < 80 * 1024 * 1024, `peak ArrayBuffer memory ${(peak / 1048576).toFixed(1)} MiB while streaming ${count} MiB`);
  });

  it('a system directory streamed as a tar into the registry: skopeo copies it with matching digest and diffID', { skip: noSkopeo }, async (t) => {
    const source = SYSTEM_DIRS.find((d) => existsSync(d));
    if (!source) return t.skip(`none of ${SYSTEM_DIRS.join(', ')} exists`);
    const ref = `${registry.host}/fastlayer/dir:v1`;
    const layer = new Layer(tarDirectory(source), { compressionLevel: 1 });
    const result = await writeTestImage(new RegistryDestination(ref), [streaming(layer)]);
    const out = join(tmp.path, 'dir-copy');
    skopeo(['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:v1`]);
    const blob = join(out, 'blobs', 'sha256', result.layers[0]!.digest.slice(7));
    const diff = createHash('sha256');
    await pipeline(createReadStream(blob), createGunzip(), async function* (chunks) {
      for await (const c of chunks) diff.update(c as Buffer);
    });
    assert.equal(`sha256:${diff.digest('hex')}`, layer.diffID().toString());
  });

  it('a push pinned to another digest is ERR_INVALID_REFERENCE; pinned to its own digest it succeeds', { skip: noSkopeo }, async () => {
    const dir = join(tmp.path, 'copied');
    await assert.rejects(pushLayout(dir, `${registry.host}/fastlayer/pinned@sha256:${'0'.repeat(64)}`), { code: 'ERR_INVALID_REFERENCE' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const digest = index.manifests[0]!.digest;
    const top = await pushLayout(dir, `${registry.host}/fastlayer/pinned@${digest}`);
    assert.equal(top.digest, digest);
    assert.equal((await pull(`${registry.host}/fastlayer/pinned@${digest}`)).manifest.descriptor.digest, digest);
  });

  it('a missing tag is ERR_REGISTRY_NOT_FOUND', async () => {
    await assert.rejects(pull(`${registry.host}/fastlayer/app:nope`), (err: unknown) => {
      assert.ok(err instanceof ErrRegistryNotFound);
      assert.equal(err.code, 'ERR_REGISTRY_NOT_FOUND');
      assert.equal(err.status, 404);
      assert.ok(err.errors.some((e) => e.code === 'MANIFEST_UNKNOWN'));
      return true;
    });
  });
});
