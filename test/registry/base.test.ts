// Registry bases: `--base REG/repo:tag` (and docker://, oci-layout:, archive:), loadBase(ref) and a
// pulled image as `new Image({ base })`. A push to the base's registry HEADs or mounts the base's
// layers and never downloads or uploads one; an archive or layout streams them from the registry,
// verified; a multi-platform base gives the build's platform.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { loadBase } from '../../src/build/base.js';
import { resolveBaseSource } from '../../src/image/base-source.js';
import { writeLayout } from '../../src/layout/layout.js';
import { pushImage } from '../../src/registry/push.js';
import { pull } from '../../src/registry/pull.js';
import { pulledBase } from '../../src/registry/pulled-base.js';
import { bufferBlob, digestOf } from '../helpers/registry-image.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { binMissing, oneErrorLine, runCliAsync, temporaries, type AsyncRun } from '../helpers/cli.js';
import { registryMissing, skopeoMissing, startProxy, startRegistry, tokenSetupMissing, type Proxy, type RunningRegistry, withProxy } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';
import type { KnownBlob } from '../../src/image/types.js';

const missing = registryMissing();


/** The bin, asynchronously: this process serves the proxy while it runs. */
const cli = (args: string[], env: NodeJS.ProcessEnv): Promise<AsyncRun> => runCliAsync(args, env, { timeoutMs: 120_000 });

function layerOf(bytes: Buffer): Layer {
  return new Layer(bytes, { compressionLevel: 1 });
}

/** Requests of the proxy log that touched `digest` as a blob (GET/HEAD/PUT ...?digest=). */
function touching(proxy: Proxy, digest: string, method: string): number {
  const enc = encodeURIComponent(digest);
  return proxy.log.filter((l) => l.method === method && (l.path.endsWith(`/blobs/${digest}`) || l.path.includes(`digest=${enc}`))).length;
}

describe('registry bases (docker-registry, no auth)', { skip: missing }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  let baseLayers: string[] = [];
  let baseDiffIDs: string[] = [];

  before(async () => {
    registry = await startRegistry();
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'app.js'), 'console.log("app")\n');
    // The base, built with the library: two layers of incompressible bytes (so a download would show).
    const base = new Image({ layers: [layerOf(randomBytes(400_000, 1)), layerOf(randomBytes(300_000, 2))], env: { NODE_VERSION: '1' }, cmd: ['node'] });
    const pushed = await pushImage(base, `${registry.host}/base/node:1`);
    baseLayers = pushed.images[0]!.layers.map((l) => l.digest);
    baseDiffIDs = pushed.images[0]!.diffIDs;
    // A two-platform base index.
    const multi = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layerOf(randomBytes(1000, 3))] }),
      new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(1000, 4))] }),
    ]);
    await pushImage(multi, `${registry.host}/base/multi:1`);
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('loadBase(ref) reads the manifest and config only; the config is inherited', async () => {
    await withProxy(registry.port, async (proxy) => {
      const base = await loadBase(`${proxy.host}/base/node:1`);
      assert.equal(base.source, `${proxy.host}/base/node:1`);
      assert.deepEqual((base.config.config as { Env: string[] }).Env, ['NODE_VERSION=1']);
      const layers = base.layers();
      assert.deepEqual(layers.map((l) => (l.kind === 'known' ? l.descriptor.digest : '')), baseLayers);
      assert.deepEqual(layers.map((l) => (l.kind === 'known' ? l.diffID : '')), baseDiffIDs);
      for (const d of baseLayers) assert.equal(touching(proxy, d, 'GET'), 0, 'no layer fetched');
    });
  });

  it('a push to another repository of the same registry mounts the base layers: none downloaded, none uploaded', async () => {
    await withProxy(registry.port, async (proxy) => {
      const base = await loadBase(`docker://${proxy.host}/base/node:1`);
      const result = await pushImage(new Image({ base, layers: [layerOf(randomBytes(5000, 7))] }), `${proxy.host}/team/lib:1`);
      for (const d of baseLayers) {
        assert.equal(touching(proxy, d, 'GET'), 0, `base layer ${d} not downloaded`);
        assert.equal(touching(proxy, d, 'PUT'), 0, `base layer ${d} not uploaded`);
      }
      const mounts = proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount=') && l.path.includes('from=base%2Fnode'));
      assert.equal(mounts.length, baseLayers.length, JSON.stringify(proxy.log));
      assert.equal(proxy.log.filter((l) => l.method === 'PATCH').length, 1, 'one PATCH: the new layer');
      const pulled = await pull(`${registry.host}/team/lib:1`);
      assert.deepEqual(pulled.layers.map((l) => l.descriptor.digest), [...baseLayers, result.images[0]!.layers[2]!.digest]);
    });
  });

  it('hazard: a refused mount (403) falls back to streaming the blob from the base registry, verified', async () => {
    const proxy = await startProxy(registry.port, {
      intercept: ({ req, res }) => {
        if (req.method !== 'POST' || !(req.url ?? '').includes('mount=')) return false;
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'no pull on the source' }] }));
        return true;
      },
    });
    try {
      const base = await loadBase(`${proxy.host}/base/node:1`);
      await pushImage(new Image({ base }), `${proxy.host}/team/denied:1`);
      for (const d of baseLayers) {
        assert.equal(touching(proxy, d, 'GET'), 1, `base layer ${d} streamed from the base repository once`);
        assert.equal(touching(proxy, d, 'PUT'), 1, `base layer ${d} uploaded`);
      }
      const pulled = await pull(`${registry.host}/team/denied:1`);
      assert.deepEqual(pulled.layers.map((l) => l.descriptor.digest), baseLayers);
    } finally {
      await proxy.close();
    }
  });

  it('a push to another registry streams each base layer from the base registry once (no mount across registries)', async () => {
    const other = await startRegistry();
    const proxy = await startProxy(registry.port);
    try {
      const base = await loadBase(`${proxy.host}/base/node:1`);
      await pushImage(new Image({ base }), `${other.host}/team/app:1`);
      assert.equal(proxy.log.filter((l) => l.path.includes('mount=')).length, 0);
      for (const d of baseLayers) assert.equal(touching(proxy, d, 'GET'), 1, `base layer ${d} read once`);
      const copied = await pull(`${other.host}/team/app:1`);
      assert.deepEqual(copied.layers.map((l) => l.descriptor.digest), baseLayers);
      await Promise.all(copied.layers.map(async (l) => {
        for await (const _ of l.open()); // verified while streaming: the bytes arrived intact
      }));
    } finally {
      await proxy.close();
      await other.stop();
    }
  });

  it('a pulled image works as base; writing a layout streams its layers from the registry, verified', async () => {
    const pulled = await pull(`${registry.host}/base/node:1`);
    const image = new Image({ base: pulled, layers: [layerOf(Buffer.from('top'))], user: 'node' });
    const dir = join(tmp.path, 'layout-from-pull');
    const result = await writeLayout(image, dir, { names: ['app:1'] });
    assert.deepEqual(result.images[0]!.layers.slice(0, 2).map((l) => l.digest), baseLayers);
    assert.deepEqual(result.images[0]!.diffIDs.slice(0, 2), baseDiffIDs);
    for (const d of baseLayers) assert.ok(existsSync(join(dir, 'blobs', 'sha256', d.slice(7))), `${d} in the layout`);
    // The layout is itself a base now, with the same layers.
    const again = await loadBase(`oci-layout:${dir}`);
    assert.equal((again.config.config as { User: string }).User, 'node');
    assert.throws(() => new Image({ base: {} as never }), { code: 'ERR_INVALID_OPTION' });
  });

  it('a multi-platform base gives the build platform\'s image; a missing one lists those the index has', async () => {
    const arm = await loadBase(`${registry.host}/base/multi:1`, { platform: 'linux/arm64' });
    assert.equal(arm.platform.architecture, 'arm64');
    const amd = await loadBase(`${registry.host}/base/multi:1`);
    assert.equal(amd.platform.architecture, 'amd64', 'linux/amd64 by default, as for local bases');
    await assert.rejects(loadBase(`${registry.host}/base/multi:1`, { platform: 'linux/s390x' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_REGISTRY_NOT_FOUND');
      assert.match(err.message, /linux\/amd64, linux\/arm64/);
      return true;
    });
    await assert.rejects(loadBase(`${registry.host}/base/node:1`, { platform: 'linux/arm64' }), { code: 'ERR_BASE_IMAGE' });
    await assert.rejects(loadBase(`${registry.host}/base/node:1`, { name: 'app:1' }), { code: 'ERR_INVALID_OPTION' });
  });
});

describe('fastlayer image --base REF (docker-registry, no auth)', { skip: binMissing() ?? missing }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const out = join(tmp.path, 'out');
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', DOCKER_CONFIG: join(tmp.path, 'no-docker-config') };
  let baseLayers: string[] = [];
  let multiLayers: string[] = [];

  before(async () => {
    registry = await startRegistry();
    mkdirSync(src, { recursive: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(src, 'app.js'), 'console.log("app")\n');
    const base = new Image({ layers: [layerOf(randomBytes(400_000, 11)), layerOf(randomBytes(200_000, 12))], cmd: ['node'] });
    baseLayers = (await pushImage(base, `${registry.host}/base/node:1`)).images[0]!.layers.map((l) => l.digest);
    const multi = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [layerOf(randomBytes(1000, 13))] }),
      new Image({ platform: 'linux/arm64', layers: [layerOf(randomBytes(1000, 14))] }),
    ]);
    multiLayers = (await pushImage(multi, `${registry.host}/base/multi:1`)).images.map((i) => i.layers[0]!.digest);
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('--push to the same registry sends no base-layer bytes (mounted), and the result is base layers + the new one', async () => {
    await withProxy(registry.port, async (proxy) => {
      const r = await cli(['image', '--base', `${proxy.host}/base/node:1`, '--layer', src, '--push', `${proxy.host}/team/app:1`, '--json'], env);
      assert.equal(r.status, 0, r.stderr);
      for (const d of baseLayers) {
        assert.equal(touching(proxy, d, 'GET'), 0, `base layer ${d} not downloaded`);
        assert.equal(touching(proxy, d, 'PUT'), 0, `base layer ${d} not uploaded`);
      }
      assert.equal(proxy.log.filter((l) => l.method === 'PATCH').length, 1, 'one PATCH: the --layer');
      assert.equal(proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount=')).length, baseLayers.length);
      const result = JSON.parse(r.stdout) as { images: { layers: { digest: string }[] }[] };
      const pulled = await pull(`${registry.host}/team/app:1`);
      assert.deepEqual(pulled.layers.map((l) => l.descriptor.digest), result.images[0]!.layers.map((l) => l.digest));
      assert.deepEqual(pulled.layers.slice(0, 2).map((l) => l.descriptor.digest), baseLayers);
      assert.equal(pulled.layers.length, 3);
      // Again into the same repository: the base layers are found by HEAD, not even mounted.
      proxy.log.length = 0;
      const again = await cli(['image', '--base', `docker://${proxy.host}/base/node:1`, '--layer', src, '--push', `${proxy.host}/team/app:2`], env);
      assert.equal(again.status, 0, again.stderr);
      assert.equal(proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount=')).length, 0);
      for (const d of baseLayers) assert.equal(touching(proxy, d, 'HEAD'), 1, `base layer ${d} HEAD-checked`);
    });
  });

  it('--output from a registry base gives an archive skopeo reads (docker-archive: and oci-archive:)', async (t) => {
    const archive = join(out, 'app.tar');
    const r = await cli(['image', '--base', `${registry.host}/base/node:1`, '--layer', src, '--tag', 'app:1', '--output', archive], env);
    assert.equal(r.status, 0, r.stderr);
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    const docker = JSON.parse(skopeo(['inspect', `docker-archive:${archive}`])) as { Layers: string[] };
    assert.equal(docker.Layers.length, 3);
    const oci = JSON.parse(skopeo(['inspect', `oci-archive:${archive}`])) as { Layers: string[] };
    assert.deepEqual(oci.Layers.slice(0, 2), baseLayers);
  });

  it('hazard: a base registry serving a tampered layer fails --output with ERR_DIGEST_MISMATCH and leaves no file', async () => {
    const bad = baseLayers[1]!;
    const proxy = await startProxy(registry.port, {
      transform: (req, chunk) => {
        if (req.method !== 'GET' || !(req.url ?? '').endsWith(`/blobs/${bad}`)) return chunk;
        const c = Buffer.from(chunk);
        c[c.length - 1] ^= 0xff;
        return c;
      },
    });
    try {
      const archive = join(out, 'tampered.tar');
      const r = await cli(['image', '--debug', '--base', `${proxy.host}/base/node:1`, '--layer', src, '--tag', 'app:1', '--output', archive], env);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr.split('\n')[0]!, /^fastlayer: base blob from .* does not match its descriptor/);
      assert.match(r.stderr, /ErrDigestMismatch/);
      assert.equal(existsSync(archive), false);
      assert.deepEqual(temporaries(out), []);
      assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.')), []);
      const layout = join(out, 'tampered-layout');
      const l = await cli(['image', '--base', `${proxy.host}/base/node:1`, '--layer', src, '--tag', 'app:1', '--oci-dir', layout], env);
      assert.equal(l.status, 1, l.stderr);
      assert.equal(existsSync(join(layout, 'blobs', 'sha256', bad.slice(7))), false, 'the tampered blob is not committed');
    } finally {
      await proxy.close();
    }
  });

  it('--platform a,b on a multi-platform registry base builds each platform on its own base image', async () => {
    const r = await cli(['image', '--base', `${registry.host}/base/multi:1`, '--layer', src, '--platform', 'linux/arm64,linux/amd64', '--push', `${registry.host}/team/multi:1`], env);
    assert.equal(r.status, 0, r.stderr);
    const arm = await pull(`${registry.host}/team/multi:1`, { platform: 'linux/arm64' });
    const amd = await pull(`${registry.host}/team/multi:1`, { platform: 'linux/amd64' });
    assert.equal(arm.layers[0]!.descriptor.digest, multiLayers[1]);
    assert.equal(amd.layers[0]!.descriptor.digest, multiLayers[0]);
    const missing = await cli(['image', '--base', `${registry.host}/base/multi:1`, '--layer', src, '--platform', 'linux/riscv64', '--push', `${registry.host}/team/multi:2`], env);
    assert.equal(missing.status, 1, missing.stderr);
    assert.ok(oneErrorLine(missing.stderr), missing.stderr);
    assert.match(missing.stderr, /linux\/riscv64.*linux\/amd64, linux\/arm64/);
  });

  it('a --base that is neither an existing path nor a reference is a usage error (exit 2)', async () => {
    for (const value of ['Not A Ref!', 'docker://UPPER/case']) {
      const r = await cli(['image', '--base', value, '--layer', src, '--tag', 'app:1', '--output', join(out, 'x.tar')], env);
      assert.equal(r.status, 2, `${value}: ${r.stderr}`);
      assert.ok(oneErrorLine(r.stderr), r.stderr);
      assert.match(r.stderr, /--base/);
    }
    assert.equal(existsSync(join(out, 'x.tar')), false);
  });
});

describe('registry bases with auth (docker-registry, token and htpasswd)', { skip: binMissing() ?? tokenSetupMissing() }, () => {
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', DOCKER_CONFIG: join(tmp.path, 'no-docker-config') };
  const alice = { username: 'alice', password: 'alice-secret' };
  let token: RunningRegistry;
  let basic: RunningRegistry;

  before(async () => {
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'app.js'), 'x\n');
    token = await startRegistry({ kind: 'token', users: { alice: alice.password } });
    basic = await startRegistry({ kind: 'htpasswd', users: { bob: 'bob-secret' } });
  });
  after(async () => {
    await token?.stop();
    await basic?.stop();
    tmp.remove();
  });

  it('a mount asks the token server for pull on the base repository and pull,push on the target', async () => {
    const pushed = await pushImage(new Image({ layers: [layerOf(randomBytes(100_000, 21))] }), `${token.host}/base/node:1`, { credentials: alice });
    const layer = pushed.images[0]!.layers[0]!.digest;
    await withProxy(token.port, async (proxy) => {
      const base = await loadBase(`${proxy.host}/base/node:1`, { registry: { credentials: alice } });
      token.token!.requests.length = 0;
      await pushImage(new Image({ base }), `${proxy.host}/team/app:1`, { credentials: alice });
      assert.equal(touching(proxy, layer, 'GET'), 0);
      assert.equal(touching(proxy, layer, 'PUT'), 0);
      const mount = proxy.log.filter((l) => l.method === 'POST' && l.path.includes('mount=') && l.path.includes('from=base%2Fnode'));
      assert.ok(mount.length >= 1, JSON.stringify(proxy.log));
      const scopes = token.token!.requests.flatMap((r) => r.scopes);
      assert.ok(scopes.includes('repository:base/node:pull'), JSON.stringify(scopes));
      assert.ok(scopes.includes('repository:team/app:pull,push'), JSON.stringify(scopes));
      assert.deepEqual((await pull(`${token.host}/team/app:1`, { credentials: alice })).layers.map((l) => l.descriptor.digest), [layer]);
    });
  });

  it('hazard: --creds of the push registry never reach a base in another registry', async () => {
    // The base lives in `basic` (bob's); the push goes to `token` with alice's --creds.
    await pushImage(new Image({ layers: [layerOf(Buffer.from('b'))] }), `${basic.host}/base/os:1`, { credentials: { username: 'bob', password: 'bob-secret' } });
    await withProxy(basic.port, async (proxy) => {
      const r = await cli(['image', '--base', `${proxy.host}/base/os:1`, '--layer', src, '--push', `${token.host}/team/other:1`, '--creds', `alice:${alice.password}`], env);
      assert.equal(r.status, 1, r.stderr);
      assert.ok(oneErrorLine(r.stderr), r.stderr);
      assert.match(r.stderr, /unauthorized/i);
      assert.ok(proxy.log.length > 0);
      assert.equal(proxy.log.filter((l) => l.auth).length, 0, 'no Authorization header reached the base registry');
      // Without --push the --creds are the base registry's own.
      const ok = await cli(['image', '--base', `${basic.host}/base/os:1`, '--layer', src, '--tag', 'app:1', '--oci-dir', join(tmp.path, 'layout'), '--creds', 'bob:bob-secret'], env);
      assert.equal(ok.status, 0, ok.stderr);
    });
  });
});

describe('pulledBase: what a pulled image must hold to be a base', () => {
  const tar = Buffer.from('an uncompressed layer');
  const layer: KnownBlob = { ...bufferBlob(tar, 'application/vnd.oci.image.layer.v1.tar'), origin: { registry: 'r.example', repository: 'base' } };
  const config = (diffIDs: string[]): Buffer => Buffer.from(JSON.stringify({ os: 'linux', architecture: 'arm64', rootfs: { type: 'layers', diff_ids: diffIDs } }));

  it('inherits config and platform; layers keep their origin and get their diffID', () => {
    const base = pulledBase({ source: 'r.example/base:1', configBytes: config([digestOf(tar)]), layers: [layer] });
    assert.equal(base.platform.architecture, 'arm64');
    const [l] = base.layers();
    assert.ok(l && l.kind === 'known');
    assert.equal(l.diffID, digestOf(tar));
    assert.deepEqual(l.origin, { registry: 'r.example', repository: 'base' });
  });

  it('hazard: no image config, a diff_ids count that differs, an uncompressed layer whose digest is not its diff_id are ERR_BASE_IMAGE / ERR_DIGEST_MISMATCH', () => {
    assert.throws(() => pulledBase({ source: 's', configBytes: undefined, configProblem: 'its config is x/y, not an image config', layers: [layer] }), { code: 'ERR_BASE_IMAGE', message: /x\/y/ });
    assert.throws(() => pulledBase({ source: 's', configBytes: config([]), layers: [layer] }), { code: 'ERR_BASE_IMAGE', message: /1 layers but 0 diff_ids/ });
    assert.throws(() => pulledBase({ source: 's', configBytes: Buffer.from('[1]'), layers: [layer] }), { code: 'ERR_BASE_IMAGE' });
    assert.throws(() => pulledBase({ source: 's', configBytes: config([digestOf(Buffer.from('other'))]), layers: [layer] }), { code: 'ERR_DIGEST_MISMATCH' });
  });
});

describe('resolveBaseSource', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  it('a prefix decides; else an existing path wins, a path-like name stays a path, anything else is a reference', () => {
    const dir = join(tmp.path, 'reg.example', 'app');
    mkdirSync(dir, { recursive: true });
    assert.deepEqual(resolveBaseSource('oci-layout:reg.example/app'), { kind: 'local', path: 'reg.example/app' });
    assert.deepEqual(resolveBaseSource('archive:x.tar'), { kind: 'local', path: 'x.tar' });
    assert.equal(resolveBaseSource(dir).kind, 'local');
    const cwd = process.cwd();
    process.chdir(tmp.path);
    try {
      assert.equal(resolveBaseSource('reg.example/app').kind, 'local', 'an existing path wins over the same text as a reference');
      assert.equal(resolveBaseSource('docker://reg.example/app').kind, 'registry');
    } finally {
      process.chdir(cwd);
    }
    for (const p of ['./missing', '/abs/missing', '../x', 'missing.tar', '~/base']) assert.deepEqual(resolveBaseSource(p), { kind: 'local', path: p });
    const r = resolveBaseSource('reg.example:5000/team/app@sha256:' + 'a'.repeat(64));
    assert.equal(r.kind, 'registry');
    assert.equal(r.kind === 'registry' && r.reference.repository, 'team/app');
    assert.throws(() => resolveBaseSource('Not A Ref!'), { code: 'ERR_BASE_IMAGE' });
    assert.throws(() => resolveBaseSource('docker://Not A Ref!'), { code: 'ERR_INVALID_REFERENCE' });
    assert.throws(() => resolveBaseSource('archive:'), { code: 'ERR_BASE_IMAGE' });
  });
});
