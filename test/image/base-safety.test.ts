// A base image is hostile input. Its files must be regular files inside its root: a symlinked blob,
// layer.tar, blobs/ directory, index.json or manifest.json, a FIFO, a `..` or absolute name must
// never put a file of the machine (a secret) into the built image. And its bytes are verified as
// they stream: a docker-save layer.tar or an OCI uncompressed blob that does not match its diff_id
// or descriptor fails the build (ERR_DIGEST_MISMATCH) before any manifest or tag is written.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { loadBase } from '../../src/build/base.js';
import { pushLayout, pushArchive } from '../../src/registry/layout.js';
import { directoryStore } from '../../src/layout/store.js';
import { binMissing, runCliAsync, type AsyncRun } from '../helpers/cli.js';
import { collect } from '../helpers/layer.js';
import { registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { tempDir } from '../helpers/tree.js';

const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (d: string): string => d.slice(7);
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** An uncompressed layer: a tar of one file. */
async function layerTar(content: string): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'etc/base.txt', mtime: new Date(0) }, content);
  p.finalize();
  return collect(p as unknown as AsyncIterable<Uint8Array>);
}

function configFor(diffIDs: string[]): Buffer {
  return Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIDs } }));
}

/** A docker-save directory: manifest.json, config.json, l1/layer.tar (`layer` written unless told not to). */
function dockerSaveDir(dir: string, layer: Buffer, diffID = sha(layer), write = true): void {
  fs.mkdirSync(join(dir, 'l1'), { recursive: true });
  if (write) fs.writeFileSync(join(dir, 'l1', 'layer.tar'), layer);
  fs.writeFileSync(join(dir, 'config.json'), configFor([diffID]));
  fs.writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['base:1'], Layers: ['l1/layer.tar'] }]));
}

/** An OCI layout directory with one uncompressed layer; `blob` is what the layer's file holds (default: the layer). */
function ociDir(dir: string, layer: Buffer, o: { blob?: Buffer | null; diffID?: string; size?: number; digest?: string } = {}): string {
  const blobs = join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const digest = o.digest ?? sha(layer);
  const config = configFor([o.diffID ?? sha(layer)]);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha(config), size: config.length },
    layers: [{ mediaType: OCI_TAR, digest, size: o.size ?? layer.length }],
  }));
  for (const b of [config, manifest]) fs.writeFileSync(join(blobs, hex(sha(b))), b);
  if (o.blob !== null && /^sha256:[0-9a-f]{64}$/.test(digest)) fs.writeFileSync(join(blobs, hex(digest)), o.blob ?? layer);
  fs.writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
  return join(blobs, hex(digest));
}

/** Moves `path` outside the base and leaves a symlink to it. */
function symlinkOut(path: string, outside: string): void {
  fs.renameSync(path, outside);
  fs.symlinkSync(outside, path);
}

function mkfifo(path: string): void {
  assert.equal(spawnSync('mkfifo', [path]).status, 0);
}


/** The bin, asynchronously (a registry may run in this process's children meanwhile). */
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<AsyncRun> => runCliAsync(args, env, { timeoutMs: 60_000 });

describe('base directories: only regular files inside the root', () => {
  const tmp = tempDir();
  const secretText = 'TOKEN=very-secret\n';
  let secret: string;
  let n = 0;
  const fresh = (): string => join(tmp.path, `case-${n++}`);
  before(() => {
    secret = join(tmp.path, 'secret');
    fs.writeFileSync(secret, secretText);
  });
  after(() => tmp.remove());

  it('docker-save: layer.tar a symlink to a local file (whose hash the config even names) is refused at load', async () => {
    const secretBytes = fs.readFileSync(secret);
    const dir = fresh();
    dockerSaveDir(dir, secretBytes, sha(secretBytes), false);
    fs.symlinkSync(secret, join(dir, 'l1', 'layer.tar'));
    await assert.rejects(loadBase(dir), { code: 'ERR_BASE_IMAGE', message: /symlink/ });
    // A relative link that stays inside the directory is still not a regular file of it.
    const inside = fresh();
    dockerSaveDir(inside, await layerTar('x'));
    fs.renameSync(join(inside, 'l1', 'layer.tar'), join(inside, 'real.tar'));
    fs.symlinkSync('../real.tar', join(inside, 'l1', 'layer.tar'));
    await assert.rejects(loadBase(inside), { code: 'ERR_BASE_IMAGE' });
  });

  it('OCI layout: a blob symlinked out, and a symlinked blobs/ or blobs/sha256/ directory, are refused by loadBase, pushLayout and inspect', async () => {
    const layer = await layerTar('layer');
    const variants: [string, (dir: string, blob: string) => void][] = [
      ['blob', (_dir, blob) => symlinkOut(blob, join(tmp.path, `out-${n++}`))],
      ['blobs/sha256', (dir) => symlinkOut(join(dir, 'blobs', 'sha256'), join(tmp.path, `out-${n++}`))],
      ['blobs', (dir) => symlinkOut(join(dir, 'blobs'), join(tmp.path, `out-${n++}`))],
      ['index.json', (dir) => symlinkOut(join(dir, 'index.json'), join(tmp.path, `out-${n++}`))],
    ];
    for (const [what, attack] of variants) {
      const dir = fresh();
      const blob = ociDir(dir, layer);
      attack(dir, blob);
      await assert.rejects(loadBase(dir), { code: 'ERR_BASE_IMAGE' }, what);
      await assert.rejects(pushLayout(dir, '127.0.0.1:1/never/contacted:1'), { code: 'ERR_LAYOUT_INVALID' }, what);
      // inspect reads the documents, not the layers: a layer blob's link is never read there.
      if (!binMissing() && what !== 'blob') {
        const r = await cli(['inspect', dir]);
        assert.equal(r.status, 1, `${what}: ${r.stderr}`);
        assert.match(r.stderr, /symlink/, what);
      }
    }
  });

  it('FIFOs in place of index.json, manifest.json, a blob or layer.tar are refused without blocking', { timeout: 60_000 }, async () => {
    const layer = await layerTar('fifo');
    const oci = fresh();
    const blob = ociDir(oci, layer);
    fs.rmSync(blob);
    mkfifo(blob);
    await assert.rejects(loadBase(oci), { code: 'ERR_BASE_IMAGE', message: /not a regular file/ });
    const index = fresh();
    ociDir(index, layer);
    fs.rmSync(join(index, 'index.json'));
    mkfifo(join(index, 'index.json'));
    await assert.rejects(loadBase(index), { code: 'ERR_BASE_IMAGE', message: /not a regular file/ });
    await assert.rejects(directoryStore(index).read('index.json', 100), { code: 'ERR_LAYOUT_INVALID' });
    const save = fresh();
    dockerSaveDir(save, layer, sha(layer), false);
    mkfifo(join(save, 'l1', 'layer.tar'));
    await assert.rejects(loadBase(save), { code: 'ERR_BASE_IMAGE', message: /not a regular file/ });
    const manifest = fresh();
    dockerSaveDir(manifest, layer);
    fs.rmSync(join(manifest, 'manifest.json'));
    mkfifo(join(manifest, 'manifest.json'));
    await assert.rejects(loadBase(manifest), { code: 'ERR_BASE_IMAGE' });
    // The base itself a FIFO (it would be read as an archive).
    const fifo = join(tmp.path, `fifo-${n++}`);
    mkfifo(fifo);
    await assert.rejects(loadBase(fifo), { code: 'ERR_BASE_IMAGE', message: /neither a directory nor a regular file/ });
  });

  it('docker-save: a symlinked layer directory is refused', async () => {
    const dir = fresh();
    dockerSaveDir(dir, await layerTar('dir link'));
    symlinkOut(join(dir, 'l1'), join(tmp.path, `out-${n++}`));
    await assert.rejects(loadBase(dir), { code: 'ERR_BASE_IMAGE', message: /symlink/ });
  });

  it('devices and directories in place of a blob are refused', async () => {
    const layer = await layerTar('dev');
    const dir = fresh();
    const blob = ociDir(dir, layer);
    fs.rmSync(blob);
    fs.mkdirSync(blob);
    await assert.rejects(loadBase(dir), { code: 'ERR_BASE_IMAGE', message: /not a regular file/ });
    if (process.getuid?.() === 0) {
      fs.rmdirSync(blob);
      assert.equal(spawnSync('mknod', [blob, 'c', '1', '3']).status, 0);
      await assert.rejects(loadBase(dir), { code: 'ERR_BASE_IMAGE', message: /not a regular file/ });
    }
  });

  it('`..` or absolute docker-save paths and `sha256:../..` digests are refused', async () => {
    const layer = await layerTar('dots');
    for (const layers of [['../outside/layer.tar'], ['l1/../../x'], ['/etc/passwd'], ['l1//layer.tar'], ['']]) {
      const dir = fresh();
      dockerSaveDir(dir, layer);
      fs.writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', Layers: layers }]));
      await assert.rejects(loadBase(dir), { code: 'ERR_UNSAFE_ARCHIVE_PATH' }, layers[0]);
    }
    const config = fresh();
    dockerSaveDir(config, layer);
    fs.writeFileSync(join(config, 'manifest.json'), JSON.stringify([{ Config: '../secret', Layers: ['l1/layer.tar'] }]));
    await assert.rejects(loadBase(config), { code: 'ERR_UNSAFE_ARCHIVE_PATH' });
    const digest = fresh();
    ociDir(digest, layer, { digest: 'sha256:../../secret' });
    await assert.rejects(loadBase(digest), { code: 'ERR_BASE_IMAGE', message: /unsupported digest/ });
    await assert.rejects(directoryStore(digest).read('../secret', 100), { code: 'ERR_LAYOUT_INVALID' });
    await assert.rejects(directoryStore(digest).size('/etc/passwd'), { code: 'ERR_LAYOUT_INVALID' });
  });

  it('a descriptor whose size is a lie is refused at load', async () => {
    const layer = await layerTar('size');
    const dir = fresh();
    ociDir(dir, layer, { size: layer.length + 1 });
    await assert.rejects(loadBase(dir), { code: 'ERR_BASE_IMAGE', message: /descriptor says/ });
  });

  it('a hard link is a regular file: accepted (it is the base owner\'s own file), and still verified', async () => {
    const layer = await layerTar('hard');
    const dir = fresh();
    dockerSaveDir(dir, layer, sha(layer), false);
    const elsewhere = join(tmp.path, `hard-${n++}`);
    fs.writeFileSync(elsewhere, layer);
    fs.linkSync(elsewhere, join(dir, 'l1', 'layer.tar'));
    const base = await loadBase(dir, { uncompressed: 'keep' });
    assert.equal(base.layers().length, 1);
  });
});

describe('base layers are verified as they stream', () => {
  const tmp = tempDir();
  let n = 0;
  const fresh = (): string => join(tmp.path, `case-${n++}`);
  after(() => tmp.remove());

  /** Every uncompressed layer blob of the base, read as the build would read it. */
  async function readLayers(source: string, uncompressed: 'compress' | 'keep'): Promise<void> {
    const base = await loadBase(source, { uncompressed });
    for (const blob of base.layers()) await collect(blob.kind === 'streaming' ? blob.layer.compressed() : blob.open());
  }

  it('compress mode: a docker-save layer.tar that is not its diff_id (same size or not) fails with ERR_DIGEST_MISMATCH', async () => {
    const layer = await layerTar('original');
    const tampered = Buffer.from(layer);
    tampered[600] ^= 1;
    for (const [what, bytes] of [['same size', tampered], ['longer', Buffer.concat([layer, Buffer.alloc(512)])], ['shorter', layer.subarray(0, 1024)]] as const) {
      const dir = fresh();
      dockerSaveDir(dir, layer);
      fs.writeFileSync(join(dir, 'l1', 'layer.tar'), bytes);
      await assert.rejects(readLayers(dir, 'compress'), { code: 'ERR_DIGEST_MISMATCH' }, what);
      // As an archive too.
      const archive = `${dir}.tar`;
      assert.equal(spawnSync('tar', ['-cf', archive, '-C', dir, '.']).status, 0);
      await assert.rejects(readLayers(archive, 'compress'), { code: 'ERR_DIGEST_MISMATCH' }, `${what} (archive)`);
    }
    const good = fresh();
    dockerSaveDir(good, layer);
    await readLayers(good, 'compress');
  });

  it('compress mode: an OCI uncompressed blob that is not its descriptor digest, or a diff_id that is not the digest, fails', async () => {
    const layer = await layerTar('oci');
    const tampered = Buffer.from(layer);
    tampered[700] ^= 1;
    const dir = fresh();
    ociDir(dir, layer, { blob: tampered });
    await assert.rejects(readLayers(dir, 'compress'), { code: 'ERR_DIGEST_MISMATCH' });
    await assert.rejects(readLayers(dir, 'keep'), { code: 'ERR_DIGEST_MISMATCH' });
    const diff = fresh();
    ociDir(diff, layer, { diffID: sha('something else') });
    await assert.rejects(loadBase(diff), { code: 'ERR_DIGEST_MISMATCH' });
  });
});

describe('a tampered base layer writes no output and no tag (CLI)', { skip: binMissing() ?? registryMissing() }, () => {
  const tmp = tempDir();
  let registry: RunningRegistry;
  let base: string;
  let archiveBase: string;
  let ociBase: string;
  const src = join(tmp.path, 'src');
  const env = { ...process.env, DOCKER_CONFIG: join(tmp.path, 'no-docker-config'), TMPDIR: tmp.path };

  before(async () => {
    registry = await startRegistry();
    fs.mkdirSync(src);
    fs.writeFileSync(join(src, 'app'), 'app\n');
    const layer = await layerTar('the base layer');
    const tampered = Buffer.from(layer);
    tampered[600] ^= 1;
    base = join(tmp.path, 'save');
    dockerSaveDir(base, layer);
    fs.writeFileSync(join(base, 'l1', 'layer.tar'), tampered);
    archiveBase = join(tmp.path, 'save.tar');
    assert.equal(spawnSync('tar', ['-cf', archiveBase, '-C', base, '.']).status, 0);
    ociBase = join(tmp.path, 'oci');
    ociDir(ociBase, layer, { blob: tampered });
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  for (const which of ['docker-save dir', 'docker-save archive', 'OCI dir'] as const) {
    const from = (): string => (which === 'docker-save dir' ? base : which === 'docker-save archive' ? archiveBase : ociBase);
    it(`${which}: --output, --oci-dir and --push fail with ERR_DIGEST_MISMATCH and leave nothing`, async () => {
      const tag = which.toLowerCase().replace(/[^a-z]+/g, '-');
      const out = join(tmp.path, `${tag}.tar`);
      let r = await cli(['image', '--base', from(), '--layer', src, '--tag', 'app:1', '--output', out], env);
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /ERR_DIGEST_MISMATCH|does not match/);
      assert.equal(fs.existsSync(out), false, 'no archive');
      assert.deepEqual(fs.readdirSync(tmp.path).filter((f) => f.endsWith('.fastlayer-tmp')), []);
      const layout = join(tmp.path, `${tag}-layout`);
      r = await cli(['image', '--base', from(), '--layer', src, '--tag', 'app:1', '--oci-dir', layout], env);
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /ERR_DIGEST_MISMATCH|does not match/);
      const index = join(layout, 'index.json');
      assert.ok(!fs.existsSync(index) || JSON.parse(fs.readFileSync(index, 'utf8')).manifests.length === 0, 'no image in the layout');
      r = await cli(['image', '--base', from(), '--layer', src, '--push', `${registry.host}/safety/${tag}:1`], env);
      assert.notEqual(r.status, 0, r.stderr);
      assert.match(r.stderr, /ERR_DIGEST_MISMATCH|does not match/);
      const tags = await fetch(`http://${registry.host}/v2/safety/${tag}/tags/list`);
      assert.ok(tags.status === 404 || ((await tags.json()) as { tags: string[] | null }).tags === null, 'no tag');
    });
  }

  it('pushLayout / pushArchive of a layout whose blob is not its digest push no tag', async () => {
    const archive = join(tmp.path, 'oci.tar');
    assert.equal(spawnSync('tar', ['-cf', archive, '-C', ociBase, '.']).status, 0);
    await assert.rejects(pushLayout(ociBase, `${registry.host}/safety/layout:1`), { code: /DIGEST_MISMATCH/ });
    await assert.rejects(pushArchive(archive, `${registry.host}/safety/layout:2`), { code: /DIGEST_MISMATCH/ });
    const tags = await fetch(`http://${registry.host}/v2/safety/layout/tags/list`);
    assert.ok(tags.status === 404 || ((await tags.json()) as { tags: string[] | null }).tags === null, 'no tag');
  });
});
