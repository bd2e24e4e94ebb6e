// `fastlayer image|node --compression estargz` and `fastlayer inspect` of eStargz layers: the flags and
// their usage errors, the TOC summary of a layout, an archive and a registry image (read by ranges
// only: every request for the layer blob a 206, far fewer bytes than the blob), and a layer whose
// annotation names another TOC refused with ERR_ESTARGZ_INVALID.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binMissing, runCli, runCliAsync } from '../helpers/cli.js';
import { randomBytes } from '../helpers/data.js';
import { registryMissing, startProxy, startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tree.js';

const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const sha = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tmp = tempDir('fastlayer-cli-estargz-image-');
const src = join(tmp.path, 'src');
const env = { ...process.env, DOCKER_CONFIG: join(tmp.path, 'no-docker-config') };

before(() => {
  mkdirSync(join(src, 'bin'), { recursive: true });
  // Incompressible: the blob is about its input's size, so what a ranged read spares shows.
  writeFileSync(join(src, 'bin/app'), randomBytes(3_000_000, 5));
  writeFileSync(join(src, 'readme'), 'read me\n');
});
after(() => tmp.remove());

interface Summary { layer: string; entries: number; files: number; chunks: number; landmark: string; tocDigest: string }

describe('fastlayer image --compression estargz and inspect', { skip: binMissing() }, () => {
  const layout = join(tmp.path, 'layout');
  const archive = join(tmp.path, 'image.tar');
  const flags = ['--layer', `${src}:/app`, '--compression', 'estargz', '--estargz-chunk-size', '1048576', '--estargz-prioritize', '/app/readme', '--no-layer-cache', '--tag', 'e:1', '--quiet'];

  it('writes a layout and an archive of the same image; inspect summarises the TOC of each', () => {
    assert.equal(runCli(['image', ...flags, '--oci-dir', layout]).status, 0);
    assert.equal(runCli(['image', ...flags, '--output', archive]).status, 0);
    const summaries: Summary[][] = [];
    for (const where of [layout, archive]) {
      const text = runCli(['inspect', where]);
      assert.equal(text.status, 0, text.stderr.toString());
      // bin/app: 3000000 bytes in 1 MiB chunks (3), readme, the landmark: 5 chunks of 4 files in 7 entries.
      assert.match(text.stdout.toString(), /\n {4}estargz: 7 TOC entries, 3 files, 5 chunks, landmark prefetch, TOC sha256:[0-9a-f]{64}\n/);
      const json = runCli(['inspect', where, '--json']);
      summaries.push((JSON.parse(json.stdout.toString()) as { estargz: Summary[] }).estargz);
    }
    assert.deepEqual(summaries[0], summaries[1]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { digest: string; annotations: Record<string, string> }[] };
    assert.equal(summaries[0]![0]!.layer, manifest.layers[0]!.digest);
    assert.equal(summaries[0]![0]!.tocDigest, manifest.layers[0]!.annotations[TOC]);
  });

  it('an image of gzip layers has no estargz summary', () => {
    const plain = join(tmp.path, 'plain');
    assert.equal(runCli(['image', '--layer', `${src}:/app`, '--no-layer-cache', '--tag', 'p:1', '--oci-dir', plain, '--quiet']).status, 0);
    const r = runCli(['inspect', plain, '--json']);
    assert.equal(r.status, 0);
    assert.equal((JSON.parse(r.stdout.toString()) as { estargz?: unknown }).estargz, undefined);
    assert.doesNotMatch(runCli(['inspect', plain]).stdout.toString(), /estargz:/);
  });

  it('hazard: a layer whose annotation names another TOC digest is ERR_ESTARGZ_INVALID (exit 1)', () => {
    const bad = join(tmp.path, 'bad');
    assert.equal(runCli(['image', ...flags, '--oci-dir', bad]).status, 0);
    const index = JSON.parse(readFileSync(join(bad, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number }[] };
    const manifest = JSON.parse(readFileSync(join(bad, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: { annotations: Record<string, string> }[] };
    manifest.layers[0]!.annotations[TOC] = `sha256:${'0'.repeat(64)}`;
    const bytes = Buffer.from(JSON.stringify(manifest));
    writeFileSync(join(bad, 'blobs/sha256', sha(bytes).slice(7)), bytes);
    index.manifests[0] = { ...index.manifests[0]!, digest: sha(bytes), size: bytes.length };
    writeFileSync(join(bad, 'index.json'), JSON.stringify(index));
    const r = runCli(['inspect', bad]);
    assert.equal(r.status, 1, r.stderr.toString());
    assert.match(r.stderr.toString(), /ERR_ESTARGZ_INVALID|TOC's digest/);
  });

  for (const [what, args] of [
    ['image --estargz-chunk-size without --compression estargz', ['image', '--layer', src, '--estargz-chunk-size', '4096', '--tag', 'x:1', '--oci-dir', join(tmp.path, 'never')]],
    ['image --estargz-prioritize with --compression zstd', ['image', '--layer', src, '--compression', 'zstd', '--estargz-prioritize', '/app/readme', '--tag', 'x:1', '--oci-dir', join(tmp.path, 'never')]],
    ['image --estargz-chunk-size out of range', ['image', '--layer', src, '--compression', 'estargz', '--estargz-chunk-size', '100', '--tag', 'x:1', '--oci-dir', join(tmp.path, 'never')]],
    ['node --estargz-chunk-size without --compression estargz', ['node', src, '--estargz-chunk-size', '4096', '--tag', 'x:1', '--oci-dir', join(tmp.path, 'never')]],
  ] as const) {
    it(`${what}: usage error (exit 2), nothing written`, () => {
      const r = runCli([...args]);
      assert.equal(r.status, 2, r.stderr.toString());
      assert.throws(() => readFileSync(join(tmp.path, 'never', 'index.json')), { code: 'ENOENT' });
    });
  }

  it('--format docker --compression estargz is an image of annotated Docker gzip layers', () => {
    const out = join(tmp.path, 'docker');
    const r = runCli(['image', ...flags, '--format', 'docker', '--oci-dir', out]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(runCli(['inspect', out]).stdout.toString(), /application\/vnd\.docker\.image\.rootfs\.diff\.tar\.gzip\n {4}estargz: /);
  });
});

describe('fastlayer image --compression estargz --push, inspect by ranges', { skip: binMissing() ?? registryMissing() }, () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  it('the pushed manifest carries the annotations; inspect reads the layer by 206 ranges only, a small part of it', async () => {
    const push = await runCliAsync(['image', '--layer', `${src}:/app`, '--compression', 'estargz', '--no-layer-cache', '--push', `${registry.host}/e/app:1`, '--quiet', '--json'], env);
    assert.equal(push.status, 0, push.stderr);
    const res = await fetch(`http://${registry.host}/v2/e/app/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const manifest = (await res.json()) as { layers: { digest: string; size: number; annotations?: Record<string, string> }[] };
    const layer = manifest.layers[0]!;
    assert.match(layer.annotations?.[TOC] ?? '', /^sha256:[0-9a-f]{64}$/);
    const seen: { range: string | undefined; status: number }[] = [];
    let bytes = 0;
    const proxy = await startProxy(registry.port, {
      headers: (req, status) => {
        if (req.url?.includes(`/blobs/${layer.digest}`)) seen.push({ range: req.headers.range, status });
      },
      transform: (req, chunk) => {
        if (req.url?.includes(`/blobs/${layer.digest}`)) bytes += chunk.length;
        return chunk;
      },
    });
    try {
      const r = await runCliAsync(['inspect', `${proxy.host}/e/app:1`, '--json'], env);
      assert.equal(r.status, 0, r.stderr);
      const summary = (JSON.parse(r.stdout) as { estargz: Summary[] }).estargz[0]!;
      assert.equal(summary.tocDigest, layer.annotations![TOC]);
      assert.equal(summary.landmark, 'no-prefetch');
    } finally {
      await proxy.close();
    }
    // The footer, then the TOC: two ranged requests, both answered 206.
    assert.equal(seen.length, 2, JSON.stringify(seen));
    for (const s of seen) {
      assert.match(s.range ?? '', /^bytes=\d+-\d+$/);
      assert.equal(s.status, 206);
    }
    assert.ok(bytes < layer.size / 10, `${bytes} of ${layer.size} bytes read`);
  });
  it('inspect through a proxy that drops Range (the registry answers 200 with the whole blob and its Content-Length) still summarises the TOC', async () => {
    const push = await runCliAsync(['image', '--layer', `${src}:/app`, '--compression', 'estargz', '--no-layer-cache', '--push', `${registry.host}/e/norange:1`, '--quiet', '--json'], env);
    assert.equal(push.status, 0, push.stderr);
    const res = await fetch(`http://${registry.host}/v2/e/norange/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const layer = ((await res.json()) as { layers: { digest: string; size: number; annotations?: Record<string, string> }[] }).layers[0]!;
    const seen: { range: string | undefined; status: number; length: unknown }[] = [];
    const proxy = await startProxy(registry.port, {
      intercept: ({ req }) => {
        if (req.url?.includes(`/blobs/${layer.digest}`)) delete req.headers.range;
        return false;
      },
      headers: (req, status, headers) => {
        if (req.url?.includes(`/blobs/${layer.digest}`)) seen.push({ range: req.headers.range, status, length: headers['content-length'] });
      },
    });
    try {
      const r = await runCliAsync(['inspect', `${proxy.host}/e/norange:1`, '--json'], env);
      assert.equal(r.status, 0, r.stderr);
      const summary = (JSON.parse(r.stdout) as { estargz: Summary[] }).estargz[0]!;
      assert.equal(summary.tocDigest, layer.annotations![TOC]);
    } finally {
      await proxy.close();
    }
    // The footer, then the TOC, both answered with the whole blob.
    assert.deepEqual(seen, [0, 1].map(() => ({ range: undefined, status: 200, length: String(layer.size) })));
  });
  it('--layer-cache-dir: a second push of the unchanged tree uploads no layer bytes and gives the same image (annotations kept)', async () => {
    const cacheDir = join(tmp.path, 'push-cache');
    const args = ['image', '--layer', `${src}:/app`, '--compression', 'estargz', '--json', '--layer-cache-dir', cacheDir];
    const first = await runCliAsync([...args, '--push', `${registry.host}/e/cached:1`], env);
    assert.equal(first.status, 0, first.stderr);
    const proxy = await startProxy(registry.port);
    try {
      const again = await runCliAsync([...args, '--push', `${proxy.host}/e/cached:2`], env);
      assert.equal(again.status, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { digest: string }).digest, (JSON.parse(first.stdout) as { digest: string }).digest);
      assert.equal(proxy.bytes['PATCH'] ?? 0, 0, 'no layer bytes the second time');
    } finally {
      await proxy.close();
    }
  });
});
