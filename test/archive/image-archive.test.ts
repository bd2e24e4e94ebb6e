// Archives and layouts without external tools: reproducible bytes, every listed blob present and
// named by its digest, failures leaving nothing behind, base images reused by digest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pack } from 'tar-stream';
import { Layer } from '../../src/layer/layer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { ArchiveWriter, writeArchive } from '../../src/archive/archive.js';
import { bytesBlob } from '../../src/image/write.js';
import { buildManifest } from '../../src/image/manifest.js';
import { writeLayout } from '../../src/layout/layout.js';
import { loadBase } from '../../src/build/base.js';
import { OCI_LAYER_UNCOMPRESSED } from '../../src/core/media-types.js';
import { listTar, makeTree, tempDir, which, type TarEntry } from '../helpers/image.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from '../helpers/data.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function dirLayer(dir: string): Layer {
  return new Layer(tarDirectory(dir));
}

/** Checks what every loader relies on; returns the entries by name. */
function checkArchive(entries: TarEntry[]): Map<string, TarEntry> {
  const byName = new Map<string, TarEntry>();
  for (const e of entries) {
    assert.ok(!byName.has(e.name), `entry ${e.name} listed once`);
    byName.set(e.name, e);
    assert.equal(e.uid, 0);
    assert.equal(e.gid, 0);
    assert.equal(e.mtime, 0);
    if (e.name.startsWith('blobs/sha256/') && e.type === 'file') {
      assert.ok(e.data, `${e.name} read`);
      assert.equal(sha(e.data!), `sha256:${e.name.slice(13)}`, `${e.name} holds the bytes its name says`);
    }
  }
  const blob = (digest: string): TarEntry => {
    const e = byName.get(`blobs/sha256/${digest.slice(7)}`);
    assert.ok(e, `blob ${digest} is in the archive`);
    return e!;
  };
  const visit = (d: { digest: string; size: number; mediaType: string }): void => {
    const e = blob(d.digest);
    assert.equal(e.size, d.size, `${d.digest} size`);
    if (d.mediaType.includes('index') || d.mediaType.includes('manifest')) {
      const doc = JSON.parse(e.data!.toString());
      for (const m of doc.manifests ?? []) visit(m);
      if (doc.config) visit(doc.config);
      for (const l of doc.layers ?? []) visit(l);
    }
  };
  const index = JSON.parse(byName.get('index.json')!.data!.toString());
  for (const m of index.manifests) visit(m);
  assert.deepEqual(JSON.parse(byName.get('oci-layout')!.data!.toString()), { imageLayoutVersion: '1.0.0' });
  return byName;
}

describe('image archives', () => {
  const tmp = tempDir('fastlayer-image-');
  const src = join(tmp.path, 'src');
  const other = join(tmp.path, 'other');
  before(() => {
    mkdirSync(src);
    makeTree(src);
    mkdirSync(other);
    writeFileSync(join(other, 'app.js'), 'console.log(1)\n');
  });
  after(() => tmp.remove());

  const build = (extra: Partial<ConstructorParameters<typeof Image>[0]> = {}): Image =>
    new Image({ layers: [dirLayer(src), dirLayer(other)], entrypoint: ['/bin/tool'], env: ['A=1'], labels: { l: 'v' }, ...extra });

  it('same inputs give byte-identical archives and the same image digest', async () => {
    const a = join(tmp.path, 'a.tar');
    const b = join(tmp.path, 'b.tar');
    const ra = await writeArchive(build(), a, { names: ['app:1'] });
    const rb = await writeArchive(build(), b, { names: ['app:1'] });
    assert.equal(ra.digest, rb.digest);
    assert.ok(readFileSync(a).equals(readFileSync(b)), 'archives are byte-identical');
    const l1 = await writeLayout(build(), join(tmp.path, 'l1'), { names: ['app:1'] });
    assert.equal(l1.digest, ra.digest, 'a layout holds the same image');
  });

  it('lists every blob it holds once, holds every blob it lists, names as docker save and containerd expect', async () => {
    const file = join(tmp.path, 'named.tar');
    const r = await writeArchive(build(), file, { names: ['app:1', 'localhost:5000/team/app:2'] });
    const entries = await listTar(file);
    const byName = checkArchive(entries);
    const index = JSON.parse(byName.get('index.json')!.data!.toString());
    assert.deepEqual(index.manifests.map((m: { annotations: unknown }) => m.annotations), [
      { 'io.containerd.image.name': 'docker.io/library/app:1', 'org.opencontainers.image.ref.name': '1' },
      { 'io.containerd.image.name': 'localhost:5000/team/app:2', 'org.opencontainers.image.ref.name': '2' },
    ]);
    const docker = JSON.parse(byName.get('manifest.json')!.data!.toString());
    assert.equal(docker.length, 1);
    assert.deepEqual(docker[0].RepoTags, ['docker.io/library/app:1', 'localhost:5000/team/app:2']);
    assert.equal(docker[0].Config, `blobs/sha256/${r.images[0]!.config.digest.slice(7)}`);
    assert.deepEqual(docker[0].Layers, r.images[0]!.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`));
    assert.deepEqual(r.images[0]!.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+gzip']);
    const config = JSON.parse(byName.get(docker[0].Config)!.data!.toString());
    assert.deepEqual(config.rootfs.diff_ids, r.images[0]!.diffIDs);
  });

  it('two streaming layers with the same bytes are one blob in the archive (the second is cut off again)', async () => {
    const file = join(tmp.path, 'dup.tar');
    const r = await writeArchive(new Image({ layers: [dirLayer(other), dirLayer(other)] }), file);
    assert.equal(r.images[0]!.layers[0]!.digest, r.images[0]!.layers[1]!.digest);
    checkArchive(await listTar(file));
  });

  it('blobs written at once into one ArchiveWriter are queued, not interleaved', async () => {
    const file = join(tmp.path, 'queued.tar');
    const w = new ArchiveWriter(file);
    const blobs = [1, 2, 3].map((n) => bytesBlob(Buffer.alloc(100_000 + n, n), 'application/octet-stream'));
    await Promise.all(blobs.map((b) => w.writeBlob(b)));
    const layers = blobs.map((b) => ({ ...b.descriptor, mediaType: OCI_LAYER_UNCOMPRESSED }));
    const configBlob = bytesBlob(Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json');
    await w.writeBlob(configBlob);
    const m = buildManifest({ format: 'oci', config: configBlob.descriptor, layers });
    await w.writeManifest(m);
    await w.commit(m, ['queued:1']);
    checkArchive(await listTar(file));
  });

  it('a multi-platform index: index.json names the index, every child blob is present, no manifest.json', async () => {
    const file = join(tmp.path, 'multi.tar');
    const index = new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [dirLayer(other)] }),
      new Image({ platform: 'linux/arm64', layers: [dirLayer(other)] }),
    ], { annotations: { 'org.opencontainers.image.source': 'test' } });
    const r = await writeArchive(index, file, { names: ['multi:1'] });
    assert.equal(r.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
    const byName = checkArchive(await listTar(file));
    assert.ok(!byName.has('manifest.json'));
    const top = JSON.parse(byName.get(`blobs/sha256/${r.digest.slice(7)}`)!.data!.toString());
    assert.deepEqual(top.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture), ['amd64', 'arm64']);
    assert.deepEqual(top.annotations, { 'org.opencontainers.image.source': 'test' });
  });

  it('memory stays bounded: a 256 MiB incompressible layer raises peak RSS by far less than its size', () => {
    const index = new URL('../../src/index.js', import.meta.url).href;
    const script = `
      import { Image, Layer, writeArchive } from ${JSON.stringify(index)};
      import { randomBytes } from 'node:crypto';
      const block = randomBytes(1 << 20);
      const before = process.memoryUsage().rss;
      let peak = before;
      const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
      const layer = new Layer((async function* () { for (let i = 0; i < 256; i++) yield Buffer.from(block); })());
      const r = await writeArchive(new Image({ layers: [layer] }), process.argv[1]);
      clearInterval(t);
      peak = Math.max(peak, process.memoryUsage().rss);
      console.log(JSON.stringify({ growth: peak - before, size: r.images[0].layers[0].size }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, join(tmp.path, 'big.tar')], { encoding: 'utf8' });
    const { growth, size } = JSON.parse(out.trim().split('\n').pop()!);
    assert.ok(size > 256 * 1024 * 1024, 'incompressible');
    assert.ok(growth < 128 * 1024 * 1024, `peak RSS grew by ${growth} bytes`);
  });

  it('to a stream: the same bytes as to a file (staged through a temp file)', async () => {
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeArchive(build(), out, { names: ['app:1'] });
    assert.ok(Buffer.concat(chunks).equals(readFileSync(join(tmp.path, 'a.tar'))));
  });

  it('to a slow stream: when the promise resolves the stream has taken every byte (hazard: bytes left queued in it, lost by a caller that exits)', async () => {
    // A consumer that takes each write 2 ms later, never ending: what it took when writeArchive
    // resolved is all a process that exits then would have sent.
    const taken: Buffer[] = [];
    const out = new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write(chunk: Buffer, _encoding, done) {
        setTimeout(() => {
          taken.push(chunk);
          done();
        }, 2);
      },
    });
    const big = join(tmp.path, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'data.bin'), randomBytes(3 * 1024 * 1024, 7));
    const file = join(tmp.path, 'big.tar');
    await writeArchive(new Image({ layers: [dirLayer(big)] }), file);
    await writeArchive(new Image({ layers: [dirLayer(big)] }), out);
    const whole = readFileSync(file);
    assert.equal(Buffer.concat(taken).length, whole.length, 'nothing still queued in the stream');
    assert.ok(Buffer.concat(taken).equals(whole));
    assert.equal(out.writableEnded, false, 'the stream stays open for its owner');
  });

  it('a failed build leaves nothing under the final name, no temp file, and an existing file untouched', async () => {
    const dir = join(tmp.path, 'fail');
    mkdirSync(dir);
    const target = join(dir, 'out.tar');
    const failing = new Layer((async function* () {
      yield Buffer.alloc(100_000, 1);
      throw new Error('source broke');
    })());
    await assert.rejects(writeArchive(new Image({ layers: [dirLayer(other), failing] }), target), /source broke/);
    assert.deepEqual(readdirSync(dir), []);
    writeFileSync(target, 'precious');
    const again = new Layer((async function* () {
      throw new Error('source broke again');
    })());
    await assert.rejects(writeArchive(new Image({ layers: [again] }), target), /broke again/);
    assert.equal(readFileSync(target, 'utf8'), 'precious');
    assert.deepEqual(readdirSync(dir), ['out.tar']);
  });

  it('an aborted signal stops the write with its reason and removes the temp file', async () => {
    const dir = join(tmp.path, 'abort');
    mkdirSync(dir);
    const ac = new AbortController();
    const endless = new Layer((async function* () {
      for (let i = 0; ; i++) {
        if (i === 3) ac.abort(new Error('stop now'));
        yield Buffer.alloc(64 * 1024, i);
        await new Promise((r) => setImmediate(r));
      }
    })());
    await assert.rejects(writeArchive(new Image({ layers: [endless] }), join(dir, 'x.tar'), { signal: ac.signal }), /stop now/);
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('OCI layouts', () => {
  const tmp = tempDir('fastlayer-layout-');
  const src = join(tmp.path, 'src');
  before(() => {
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'data\n');
  });
  after(() => tmp.remove());

  it('writes oci-layout, blobs named by digest and index.json; a second image is added beside the first', async () => {
    const dir = join(tmp.path, 'layout');
    const a = await writeLayout(new Image({ layers: [dirLayer(src)] }), dir, { names: ['a:1'] });
    const b = await writeLayout(new Image({ layers: [dirLayer(src)], cmd: ['b'] }), dir, { names: ['b:1'] });
    const c = await writeLayout(new Image({ layers: [dirLayer(src)], cmd: ['c'] }), dir, { names: ['a:1'] });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    assert.deepEqual(index.manifests.map((m: { digest: string }) => m.digest), [b.digest, c.digest], 'a:1 replaced, b:1 kept');
    assert.notEqual(a.digest, c.digest);
    for (const name of readdirSync(join(dir, 'blobs', 'sha256'))) {
      assert.equal(sha(readFileSync(join(dir, 'blobs', 'sha256', name))), `sha256:${name}`, `${name}: no temp file left, bytes match`);
    }
  });

  it('one entry per distinct name; a progress callback throwing after the commit leaves the committed image whole', async () => {
    const dir = join(tmp.path, 'names');
    await writeLayout(new Image({ layers: [dirLayer(src)] }), dir, { names: ['app', 'app:latest', 'docker.io/library/app:latest'] });
    assert.equal(JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests.length, 1);
    const dir2 = join(tmp.path, 'late-throw');
    await assert.rejects(writeLayout(new Image({ layers: [dirLayer(src)] }), dir2, { names: ['x:1'], onProgress: (e) => { if (e.type === 'commit') throw new Error('observer failed'); } }), /observer failed/);
    const index = JSON.parse(readFileSync(join(dir2, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(dir2, 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    for (const d of [manifest.config, ...manifest.layers]) assert.ok(existsSync(join(dir2, 'blobs', 'sha256', d.digest.slice(7))), d.digest);
  });

  it('refuses a non-empty directory that is not a layout; a failure removes only what it created', async () => {
    const foreign = join(tmp.path, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'keep.txt'), 'mine');
    await assert.rejects(writeLayout(new Image({ layers: [dirLayer(src)] }), foreign), { code: 'ERR_IMAGE_LAYOUT' });
    assert.deepEqual(readdirSync(foreign), ['keep.txt']);

    const dir = join(tmp.path, 'partial');
    await writeLayout(new Image({ layers: [dirLayer(src)] }), dir, { names: ['ok:1'] });
    const before = readdirSync(join(dir, 'blobs', 'sha256')).sort();
    const indexBefore = readFileSync(join(dir, 'index.json'));
    const failing = new Layer((async function* () {
      yield Buffer.alloc(10_000, 7);
      throw new Error('late failure');
    })());
    await assert.rejects(writeLayout(new Image({ layers: [dirLayer(join(tmp.path, 'foreign')), failing] }), dir, { names: ['bad:1'] }), /late failure/);
    assert.deepEqual(readdirSync(join(dir, 'blobs', 'sha256')).sort(), before, 'the blob written before the failure is removed, older ones kept');
    assert.ok(readFileSync(join(dir, 'index.json')).equals(indexBefore));

    const fresh = join(tmp.path, 'fresh');
    await assert.rejects(writeLayout(new Image({ layers: [new Layer((async function* () { throw new Error('at once'); })())] }), fresh), /at once/);
    assert.ok(!existsSync(fresh), 'a directory it created is removed again');
  });
});

describe('base images', () => {
  const tmp = tempDir('fastlayer-base-');
  const src = join(tmp.path, 'src');
  const top = join(tmp.path, 'top');
  before(() => {
    mkdirSync(src);
    makeTree(src, 5);
    mkdirSync(top);
    writeFileSync(join(top, 'app.js'), 'run()\n');
  });
  after(() => tmp.remove());

  it('reuses the layers of a layout, an OCI archive and a Docker 25 archive by digest, without recompressing', async () => {
    const baseImage = new Image({ layers: [dirLayer(src)], env: ['FROM_BASE=1'], cmd: ['base'], platform: 'linux/arm64' });
    const layout = join(tmp.path, 'base-layout');
    const archive = join(tmp.path, 'base.tar');
    const first = await writeLayout(baseImage, layout, { names: ['base:1'] });
    await writeArchive(new Image({ layers: [dirLayer(src)], env: ['FROM_BASE=1'], cmd: ['base'], platform: 'linux/arm64' }), archive, { names: ['base:1'] });
    const baseLayer = first.images[0]!.layers[0]!;
    for (const source of [layout, archive]) {
      const base = await loadBase(source, { platform: 'linux/arm64' });
      const blobs = base.layers();
      assert.equal(blobs[0]!.kind, 'known', 'a compressed base layer is a known blob');
      const out = join(tmp.path, `on-${source === layout ? 'layout' : 'archive'}.tar`);
      const progress: { digest: string; skipped: boolean }[] = [];
      const r = await writeArchive(new Image({ base, layers: [dirLayer(top)], env: ['MINE=2'] }), out, { names: ['top:1'], onProgress: (e) => { if (e.type === 'blob') progress.push(e); } });
      assert.equal(r.images[0]!.layers.length, 2);
      assert.equal(r.images[0]!.layers[0]!.digest, baseLayer.digest, 'base layer digest unchanged');
      assert.equal(r.images[0]!.layers[0]!.size, baseLayer.size);
      const byName = checkArchive(await listTar(out));
      const config = JSON.parse(byName.get(`blobs/sha256/${r.images[0]!.config.digest.slice(7)}`)!.data!.toString());
      assert.deepEqual(config.config.Env, ['FROM_BASE=1', 'MINE=2']);
      assert.deepEqual(config.config.Cmd, ['base']);
      assert.equal(config.architecture, 'arm64', 'platform inherited');
      assert.equal(config.rootfs.diff_ids[0], first.images[0]!.diffIDs[0]);
    }
    // Into the base's own layout: the base blob is already there and is skipped.
    const base = await loadBase(layout, { name: 'base:1', platform: 'linux/arm64' });
    const events: { digest: string; skipped: boolean }[] = [];
    await writeLayout(new Image({ base, layers: [dirLayer(top)] }), layout, { names: ['top:1'], onProgress: (e) => { if (e.type === 'blob') events.push(e); } });
    assert.deepEqual(events.filter((e) => e.digest === baseLayer.digest).map((e) => e.skipped), [true]);
  });

  it('a classic docker-save archive: layer.tar kept as an uncompressed OCI layer, or compressed once', async () => {
    const layerTar = Buffer.concat(await (async () => { const c: Buffer[] = []; for await (const b of tarDirectory(top)) c.push(b); return c; })());
    const diffID = sha(layerTar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['old'] }, rootfs: { type: 'layers', diff_ids: [diffID] } }));
    const file = join(tmp.path, 'save.tar');
    await packTar(file, [
      ['abc/layer.tar', layerTar],
      ['cfg.json', config],
      ['manifest.json', Buffer.from(JSON.stringify([{ Config: 'cfg.json', RepoTags: ['old:1'], Layers: ['abc/layer.tar'] }]))],
    ]);
    const keep = await loadBase(file, { uncompressed: 'keep' });
    const kept = keep.layers()[0]!;
    assert.equal(kept.kind, 'known');
    assert.equal(kept.kind === 'known' && kept.descriptor.mediaType, OCI_LAYER_UNCOMPRESSED);
    const r1 = await writeArchive(new Image({ base: keep }), join(tmp.path, 'kept.tar'));
    assert.equal(r1.images[0]!.layers[0]!.digest, diffID);
    assert.throws(() => new Image({ base: keep, format: 'docker' }), { code: 'ERR_IMAGE_FORMAT' });

    const compress = await loadBase(file, { name: 'old:1' });
    assert.equal(compress.layers()[0]!.kind, 'streaming');
    const r2 = await writeArchive(new Image({ base: compress, format: 'docker' }), join(tmp.path, 'compressed.tar'));
    assert.equal(r2.images[0]!.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.deepEqual(r2.images[0]!.diffIDs, [diffID], 'compressed once, same diffID');
  });

  it('reads base archives written by GNU tar with long names (GNU and PAX headers) at the right offsets', async (t) => {
    if (!which('tar')) return t.skip('tar not installed');
    const layerTar = Buffer.concat(await (async () => { const c: Buffer[] = []; for await (const b of tarDirectory(top)) c.push(b); return c; })());
    const diffID = sha(layerTar);
    const tree = join(tmp.path, 'save-tree');
    const long = `${'long-directory-name-'.repeat(8)}/layer.tar`;
    mkdirSync(join(tree, long, '..'), { recursive: true });
    writeFileSync(join(tree, long), layerTar);
    writeFileSync(join(tree, 'c.json'), JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffID] } }));
    writeFileSync(join(tree, 'manifest.json'), JSON.stringify([{ Config: 'c.json', RepoTags: [], Layers: [long] }]));
    for (const format of ['gnu', 'pax']) {
      const file = join(tmp.path, `save-${format}.tar`);
      execFileSync('tar', ['-c', `--format=${format}`, '-f', file, '-C', tree, '.']);
      const base = await loadBase(file, { uncompressed: 'keep' });
      const r = await writeArchive(new Image({ base }), join(tmp.path, `from-${format}.tar`));
      assert.equal(r.images[0]!.layers[0]!.digest, diffID, `${format}: the layer's bytes were read from the right offset`);
    }
  });

  it('refuses archive entries with unsafe names, and base blobs whose bytes do not match their digest', async () => {
    for (const name of ['../escape', '/etc/passwd', 'a/../../b']) {
      const file = join(tmp.path, 'unsafe.tar');
      await packTar(file, [[name, Buffer.from('x')], ['manifest.json', Buffer.from('[]')]]);
      await assert.rejects(loadBase(file), { code: 'ERR_UNSAFE_ARCHIVE_PATH' }, name);
    }
    for (const linkname of ['../../etc/passwd', '/etc/passwd', '../../outside']) {
      const file = join(tmp.path, 'unsafe-link.tar');
      await packTar(file, [['manifest.json', Buffer.from('[]')]], [['x/layer.tar', linkname]]);
      await assert.rejects(loadBase(file), { code: 'ERR_UNSAFE_ARCHIVE_PATH' }, linkname);
    }
    const layout = join(tmp.path, 'corrupt-layout');
    const r = await writeLayout(new Image({ layers: [dirLayer(top)] }), layout);
    const blob = join(layout, 'blobs', 'sha256', r.images[0]!.layers[0]!.digest.slice(7));
    const bytes = readFileSync(blob);
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(blob, bytes);
    const base = await loadBase(layout);
    await assert.rejects(writeArchive(new Image({ base }), join(tmp.path, 'from-corrupt.tar')), { code: 'ERR_DIGEST_MISMATCH' });
    assert.ok(!existsSync(join(tmp.path, 'from-corrupt.tar')));
  });
});

async function packTar(file: string, entries: [string, Buffer][], symlinks: [string, string][] = []): Promise<void> {
  const p = pack();
  const out = createWriteStream(file);
  const done = new Promise<void>((resolve, reject) => { out.on('finish', resolve); out.on('error', reject); });
  p.pipe(out);
  for (const [name, data] of entries) p.entry({ name, size: data.length }, data);
  for (const [name, linkname] of symlinks) p.entry({ name, type: 'symlink', linkname });
  p.finalize();
  await done;
}
