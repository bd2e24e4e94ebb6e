// copyImage and `fastlayer copy` against real registries: within one registry nothing but mounts and
// HEADs; across registries blobs stream and are checked; manifests keep their digests; tags come last;
// an archive appears only complete; each registry's credentials stay with it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { writeLayout } from '../../src/layout/layout.js';
import { pushImage } from '../../src/registry/push.js';
import { copyImage, parseCopyEndpoint } from '../../src/registry/copy.js';
import { connect, pullScope } from '../../src/registry/client.js';
import { getManifest, headManifest } from '../../src/registry/manifest.js';
import { indexManifests } from '../../src/registry/parse.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { binMissing, runCliAsync, temporaries, type AsyncRun } from '../helpers/cli.js';
import { registryMissing, skopeoMissing, startProxy, startRegistry, type Proxy, type RunningRegistry } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';

const missing = registryMissing();

function layerOf(bytes: Buffer): Layer {
  return new Layer(bytes, { compressionLevel: 1 });
}

const cli = (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<AsyncRun> => runCliAsync(args, env, { timeoutMs: 120_000 });

/** The manifest a registry serves for `ref` (digest and bytes), or undefined when there is none. */
async function served(ref: string): Promise<{ digest: string; bytes: Buffer } | undefined> {
  const repo = connect(ref);
  const target = { transport: repo.transport, repository: repo.repository, scopes: [pullScope(repo.repository)] };
  if (!(await headManifest(target, repo.reference.identifier))) return undefined;
  const m = await getManifest(target, repo.reference.identifier);
  return { digest: m.descriptor.digest, bytes: m.bytes };
}

/** One ustar entry (header and padded data). */
function tarEntry(name: string, data: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function blobGets(proxy: Proxy): number {
  return proxy.log.filter((l) => l.method === 'GET' && /\/blobs\/sha256:/.test(l.path)).length;
}

describe('parseCopyEndpoint', () => {
  const tmp = tempDir();
  after(() => tmp.remove());
  it('prefixes decide; an existing directory is a layout, an existing file an archive; a path stays a path', () => {
    writeFileSync(join(tmp.path, 'a.img'), 'x');
    assert.deepEqual(parseCopyEndpoint(`oci-layout:${tmp.path}:v1`, 'source'), { kind: 'layout', path: tmp.path, name: 'v1' });
    assert.deepEqual(parseCopyEndpoint(`oci-layout:${tmp.path}`, 'source'), { kind: 'layout', path: tmp.path });
    assert.deepEqual(parseCopyEndpoint('archive:x.img', 'source'), { kind: 'archive', path: 'x.img' });
    assert.deepEqual(parseCopyEndpoint(tmp.path, 'source'), { kind: 'layout', path: tmp.path });
    assert.deepEqual(parseCopyEndpoint(join(tmp.path, 'a.img'), 'source'), { kind: 'archive', path: join(tmp.path, 'a.img') });
    assert.deepEqual(parseCopyEndpoint('./new.tar', 'destination'), { kind: 'archive', path: './new.tar' });
    assert.deepEqual(parseCopyEndpoint('./newdir', 'destination'), { kind: 'layout', path: './newdir' });
    const r = parseCopyEndpoint('docker://reg.example/team/app:1', 'source');
    assert.equal(r.kind === 'registry' && r.reference.toString(), 'reg.example/team/app:1');
    assert.equal(parseCopyEndpoint('127.0.0.1:5000/a/b@sha256:' + 'a'.repeat(64), 'source').kind, 'registry');
    assert.throws(() => parseCopyEndpoint('oci-layout:', 'source'), { code: 'ERR_INVALID_REFERENCE' });
    assert.throws(() => parseCopyEndpoint('Not A Ref', 'source'), { code: 'ERR_INVALID_REFERENCE' });
  });
});

describe('copyImage from a built image (an ImageSource like any other)', () => {
  const tmp = tempDir();
  after(() => tmp.remove());
  it('into a layout and an archive: the digest is the one the image reports once written; a platform list is refused before anything is written', async () => {
    const image = new Image({ layers: [layerOf(randomBytes(3_000, 40))], cmd: ['built'] });
    const into = join(tmp.path, 'layout');
    const copied = await copyImage(image, { kind: 'layout', path: into }, { names: ['local/built:1'] });
    assert.equal(copied.descriptor.digest, (await image.top()).digest);
    assert.deepEqual(copied.names, ['docker.io/local/built:1']);
    const index = new ImageIndex([new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(100, 41))] })]);
    const archive = join(tmp.path, 'never.tar');
    await assert.rejects(copyImage(index, { kind: 'archive', path: archive }, { platform: 'linux/arm64' }), { code: 'ERR_INVALID_OPTION' });
    assert.equal(existsSync(archive), false);
    const written = await copyImage(index, { kind: 'archive', path: archive });
    assert.equal(written.descriptor.digest, (await index.top()).digest);
  });
});

describe('copyImage (docker-registry)', { skip: missing }, () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  const tmp = tempDir();
  let appDigest = '';
  let appLayers: string[] = [];
  let multiDigest = '';
  let children: string[] = [];

  before(async () => {
    [a, b] = await Promise.all([startRegistry(), startRegistry()]);
    const app = new Image({ layers: [layerOf(randomBytes(200_000, 1)), layerOf(randomBytes(100_000, 2))], cmd: ['app'] });
    const pushed = await pushImage(app, `${a.host}/src/app:1`);
    appDigest = pushed.digest;
    appLayers = pushed.images[0]!.layers.map((l) => l.digest);
    const multi = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layerOf(randomBytes(3000, 3))] }),
      new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(3000, 4))] }),
      new Image({ platform: 'linux/arm/v7', layers: [layerOf(randomBytes(3000, 5))] }),
    ]);
    multiDigest = (await pushImage(multi, `${a.host}/src/multi:1`)).digest;
    children = indexManifests((await served(`${a.host}/src/multi:1`))!.bytes, 'index').map((d) => d.digest);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    tmp.remove();
  });

  it('same registry: blobs are mounted, no blob byte is downloaded; the manifest keeps its digest; a second copy only HEADs', async () => {
    const proxy = await startProxy(a.port);
    try {
      const result = await copyImage(`${proxy.host}/src/app:1`, `${proxy.host}/dst/app:2`, { names: ['latest'] });
      assert.equal(result.descriptor.digest, appDigest);
      assert.deepEqual(result.names, [`${proxy.host}/dst/app:2`, `${proxy.host}/dst/app:latest`]);
      assert.equal(blobGets(proxy), 0, JSON.stringify(proxy.log));
      const mounts = proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount=') && l.path.includes('from=src%2Fapp'));
      assert.equal(mounts.length, appLayers.length + 1, 'layers and config mounted');
      assert.equal(proxy.log.filter((l) => l.method === 'PATCH' || (l.method === 'PUT' && l.path.includes('/blobs/'))).length, 0, 'nothing uploaded');
      assert.equal((await served(`${a.host}/dst/app:2`))?.digest, appDigest);
      assert.equal((await served(`${a.host}/dst/app:latest`))?.digest, appDigest);
      proxy.log.length = 0;
      await copyImage(`${proxy.host}/src/app:1`, `${proxy.host}/dst/app:3`);
      assert.equal(blobGets(proxy), 0);
      assert.equal(proxy.log.filter((l) => l.method === 'POST').length, 0, 'every blob found by HEAD');
      // Tags last: the tag PUT comes after every other request.
      const last = proxy.log[proxy.log.length - 1]!;
      assert.ok(last.method === 'PUT' && last.path.endsWith('/manifests/3'), JSON.stringify(proxy.log));
    } finally {
      await proxy.close();
    }
  });

  it('another registry: every blob streams through once, checked; the index is copied whole with its digest', async () => {
    const result = await copyImage(`${a.host}/src/app:1`, `${b.host}/mirror/app:1`);
    assert.equal(result.descriptor.digest, appDigest);
    assert.equal((await served(`${b.host}/mirror/app:1`))?.digest, appDigest);
    const index = await copyImage(`${a.host}/src/multi:1`, `${b.host}/mirror/multi:1`);
    assert.equal(index.descriptor.digest, multiDigest);
    assert.equal((await served(`${b.host}/mirror/multi:1`))?.digest, multiDigest);
    for (const c of children) assert.ok(await served(`${b.host}/mirror/multi@${c}`), `child ${c} copied`);
  });

  it('--platform: one platform copies that image (its digest); several copy a smaller index (a new digest)', async () => {
    const one = await copyImage(`${a.host}/src/multi:1`, `${b.host}/plat/one:1`, { platform: 'linux/arm64' });
    assert.equal(one.descriptor.digest, children[1]);
    const two = await copyImage(`${a.host}/src/multi:1`, `${b.host}/plat/two:1`, { platform: 'linux/amd64,linux/arm/v7' });
    assert.notEqual(two.descriptor.digest, multiDigest);
    const got = await served(`${b.host}/plat/two:1`);
    assert.equal(got?.digest, two.descriptor.digest);
    assert.deepEqual(indexManifests(got!.bytes, 'index').map((d) => d.digest), [children[0], children[2]]);
    await assert.rejects(copyImage(`${a.host}/src/multi:1`, `${b.host}/plat/none:1`, { platform: 'linux/s390x' }), { code: 'ERR_REGISTRY_NOT_FOUND' });
    assert.equal(await served(`${b.host}/plat/none:1`), undefined);
  });

  it('hazard: a tampered blob from the source registry fails the copy; no tag is written', async () => {
    const proxy = await startProxy(a.port, {
      transform: (req, chunk) => (req.method === 'GET' && req.url?.includes(appLayers[0]!) ? Buffer.from(chunk.map((x) => x ^ 1)) : chunk),
    });
    try {
      await assert.rejects(copyImage(`${proxy.host}/src/app:1`, `${b.host}/tampered/app:1`), { code: 'ERR_REGISTRY_DIGEST_MISMATCH' });
      assert.equal(await served(`${b.host}/tampered/app:1`), undefined);
    } finally {
      await proxy.close();
    }
  });

  it('layout -> registry keeps the digest; a tampered layout blob fails before the tag', async () => {
    const dir = join(tmp.path, 'layout');
    const written = await writeLayout(new Image({ layers: [layerOf(randomBytes(50_000, 9))] }), dir, { names: ['local/app:1'] });
    const result = await copyImage(dir, `${b.host}/fromlayout/app:1`);
    assert.equal(result.descriptor.digest, written.digest);
    assert.equal((await served(`${b.host}/fromlayout/app:1`))?.digest, written.digest);
    const layer = written.images[0]!.layers[0]!.digest;
    const file = join(dir, 'blobs', 'sha256', layer.slice(7));
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    await assert.rejects(copyImage(`oci-layout:${dir}`, `${b.host}/fromlayout/bad:1`), (err: Error & { code?: string }) => /DIGEST_MISMATCH/.test(err.code ?? ''));
    assert.equal(await served(`${b.host}/fromlayout/bad:1`), undefined);
  });

  it('oci-layout:DIR:TAG picks the image of that ref.name from a layout holding several', async () => {
    const dir = join(tmp.path, 'two-named');
    const one = await writeLayout(new Image({ layers: [layerOf(randomBytes(1000, 41))] }), dir, { names: ['local/app:one'] });
    const two = await writeLayout(new Image({ layers: [layerOf(randomBytes(1000, 42))] }), dir, { names: ['local/app:two'] });
    assert.equal((await copyImage(`oci-layout:${dir}:two`, `${b.host}/named/app:2`)).descriptor.digest, two.digest);
    assert.equal((await copyImage(`oci-layout:${dir}:one`, `${b.host}/named/app:1`)).descriptor.digest, one.digest);
    await assert.rejects(copyImage(`oci-layout:${dir}`, `${b.host}/named/app:x`), { code: 'ERR_LAYOUT_INVALID' });
  });

  it('registry -> layout copies the index whole; layout -> archive -> registry round-trips the digest', async () => {
    const dir = join(tmp.path, 'multi-layout');
    const r = await copyImage(`${a.host}/src/multi:1`, `oci-layout:${dir}`);
    assert.equal(r.descriptor.digest, multiDigest);
    assert.deepEqual(r.names, [`${a.host}/src/multi:1`]);
    const file = join(tmp.path, 'multi.tar');
    await copyImage(dir, file);
    const back = await copyImage(`archive:${file}`, `${b.host}/roundtrip/multi:1`);
    assert.equal(back.descriptor.digest, multiDigest);
  });
});

describe('copy: credentials stay with their registry (htpasswd)', { skip: missing }, () => {
  let a: RunningRegistry;
  let b: RunningRegistry;
  const tmp = tempDir();
  const A = { username: 'alice', password: 'Alice-Secret-7f3e1' };
  const B = { username: 'bob', password: 'Bob-Secret-91ad2' };
  before(async () => {
    a = await startRegistry({ kind: 'htpasswd', users: { alice: A.password } });
    b = await startRegistry({ kind: 'htpasswd', users: { bob: B.password } });
    await pushImage(new Image({ layers: [layerOf(randomBytes(5000, 11))] }), `${a.host}/src/app:1`, { credentials: A });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    tmp.remove();
  });

  it('hazard: the destination credentials never reach the source registry, nor the source ones the destination', async () => {
    const seen = { a: [] as string[], b: [] as string[] };
    const record = (list: string[]) => ({ intercept: ({ req }: { req: { headers: Record<string, string | string[] | undefined> } }) => (list.push(String(req.headers['authorization'] ?? '')), false) });
    const pa = await startProxy(a.port, record(seen.a));
    const pb = await startProxy(b.port, record(seen.b));
    const empty = join(tmp.path, 'no-docker-config');
    mkdirSync(empty, { recursive: true });
    const basic = (c: { username: string; password: string }) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    try {
      // Destination credentials only: the source is asked with none (an empty Docker config) and refuses.
      await assert.rejects(copyImage(`${pa.host}/src/app:1`, `${pb.host}/dst/app:1`, { credentials: B, dockerConfig: empty }), { code: 'ERR_REGISTRY_UNAUTHORIZED' });
      assert.ok(!seen.a.includes(basic(B)), 'B\'s credentials sent to A');
      const ok = await copyImage(`${pa.host}/src/app:1`, `${pb.host}/dst/app:1`, { credentials: B, sourceCredentials: A, dockerConfig: empty });
      assert.ok(ok.descriptor.digest.startsWith('sha256:'));
      assert.ok(seen.a.includes(basic(A)) && seen.b.includes(basic(B)));
      assert.ok(!seen.a.includes(basic(B)) && !seen.b.includes(basic(A)), 'credentials crossed registries');
    } finally {
      await Promise.all([pa.close(), pb.close()]);
    }
  });

  it('the destination credentials serve the source in the same registry (mounts), and a registry source into an archive', async () => {
    const empty = join(tmp.path, 'no-docker-config-2');
    mkdirSync(empty, { recursive: true });
    const proxy = await startProxy(a.port);
    try {
      await copyImage(`${proxy.host}/src/app:1`, `${proxy.host}/dst/app:1`, { credentials: A, dockerConfig: empty });
      assert.equal(blobGets(proxy), 0);
      assert.ok(proxy.log.some((l) => l.method === 'POST' && l.path.includes('mount=')));
    } finally {
      await proxy.close();
    }
    const file = join(tmp.path, 'auth.tar');
    await assert.rejects(copyImage(`${a.host}/src/app:1`, file, { dockerConfig: empty }), { code: 'ERR_REGISTRY_UNAUTHORIZED' });
    assert.equal(existsSync(file), false);
    await copyImage(`${a.host}/src/app:1`, file, { credentials: A, dockerConfig: empty });
    assert.ok(existsSync(file));
  });
});

describe('fastlayer copy (CLI)', { skip: missing ?? binMissing() }, () => {
  let reg: RunningRegistry;
  const tmp = tempDir();
  let digest = '';
  let layer = '';
  before(async () => {
    reg = await startRegistry();
    const pushed = await pushImage(new Image({ layers: [layerOf(randomBytes(40_000, 21))] }), `${reg.host}/src/app:1`);
    digest = pushed.digest;
    layer = pushed.images[0]!.layers[0]!.digest;
  });
  after(async () => {
    await reg?.stop();
    tmp.remove();
  });

  it('registry -> archive: skopeo reads it with the same manifest digest; --digest-file and --json', { skip: skopeoMissing() }, async () => {
    const out = join(tmp.path, 'app.tar');
    const digestFile = join(tmp.path, 'digest');
    const r = await cli(['copy', `${reg.host}/src/app:1`, out, '--digest-file', digestFile, '--json', '-q']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { digest: string; names: string[] };
    assert.equal(doc.digest, digest);
    assert.deepEqual(doc.names, [`${reg.host}/src/app:1`]);
    assert.equal(readFileSync(digestFile, 'utf8'), `${digest}\n`);
    const info = JSON.parse(skopeo(['inspect', `oci-archive:${out}`])) as { Digest: string };
    assert.equal(info.Digest, digest);
  });

  it('hazard: a tampered blob leaves no archive file and no temporary', async () => {
    const proxy = await startProxy(reg.port, {
      transform: (req, chunk) => (req.method === 'GET' && req.url?.includes(layer) ? Buffer.from(chunk.map((x) => x ^ 1)) : chunk),
    });
    try {
      const dir = join(tmp.path, 'bad');
      mkdirSync(dir);
      const r = await cli(['copy', `${proxy.host}/src/app:1`, join(dir, 'app.tar')]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /arrived as sha256:/);
      assert.equal(existsSync(join(dir, 'app.tar')), false);
      assert.deepEqual(temporaries(dir), []);
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      await proxy.close();
    }
  });

  it('--platform into a layout: one platform is that image; usage errors are exit 2', async () => {
    const multi = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layerOf(randomBytes(2000, 31))] }),
      new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(2000, 32))] }),
    ]);
    const pushed = await pushImage(multi, `${reg.host}/src/multi:1`);
    const dir = join(tmp.path, 'arm-layout');
    const r = await cli(['copy', `${reg.host}/src/multi:1`, `oci-layout:${dir}`, '--platform', 'linux/arm64', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, pushed.images[1]!.manifest.digest);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.deepEqual(index.manifests.map((m) => m.digest), [pushed.images[1]!.manifest.digest]);
    for (const args of [
      ['copy', `${reg.host}/src/multi:1`],
      ['copy', `${reg.host}/src/multi:1`, join(tmp.path, 'x.tar'), '--src-creds', 'nocolon'],
      ['copy', 'Not A Ref', join(tmp.path, 'x.tar')],
      ['copy', `${reg.host}/src/multi:1`, join(tmp.path, 'x.tar'), '--platform', 'linux'],
      ['copy', join(tmp.path, 'x.tar'), `archive:${join(tmp.path, '.', 'x.tar')}`],
    ]) {
      const bad = await cli(args);
      assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.equal(existsSync(join(tmp.path, 'x.tar')), false);
    }
  });

  it('an archive without index.json (docker save before Docker 25) is refused: no manifest to copy byte for byte', async () => {
    const file = join(tmp.path, 'old-save.tar');
    writeFileSync(file, Buffer.concat([tarEntry('manifest.json', Buffer.from('[]')), Buffer.alloc(1024)]));
    const r = await cli(['copy', file, `${reg.host}/old/save:1`]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /no index\.json/);
    assert.equal(await served(`${reg.host}/old/save:1`), undefined);
  });

  it('registry -> registry with --tag; a --tag of another repository is exit 2 before anything is read', async () => {
    const r = await cli(['copy', `docker://${reg.host}/src/app:1`, `${reg.host}/dst/app:1`, '--tag', 'latest']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`name: ${reg.host}/dst/app:latest`));
    assert.equal((await served(`${reg.host}/dst/app:latest`))?.digest, digest);
    const bad = await cli(['copy', `${reg.host}/src/app:1`, `${reg.host}/dst/app:2`, '--tag', `${reg.host}/other/app:1`]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(await served(`${reg.host}/dst/app:2`), undefined);
  });
});
