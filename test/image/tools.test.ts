// The archives and layouts as the real tools read them: skopeo (both archive transports and the
// layout; it checks every blob's digest), umoci (unpacked tree equals the source), containerd's ctr
// import (what k3d image import runs) and podman load. Each test skips with the exact reason when
// its tool is missing. The source tree has hard links and a FIFO; the second layer lands under /app
// (prefix); a build through buildImage checks that umoci applies a layer's whiteouts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { writeArchive } from '../../src/archive/archive.js';
import { writeLayout } from '../../src/layout/layout.js';
import { loadBase } from '../../src/build/base.js';
import { buildImage } from '../../src/build/build.js';
import type { WriteResult } from '../../src/image/write.js';
import { Containerd, FIFO, HARD_LINKS, LONG, makeTree, missing, mustRun, run, snapshotTree, tempDir, type TreeNode } from '../helpers/image.js';

const dirLayer = (dir: string, prefix?: string): Layer => new Layer(tarDirectory(dir, prefix === undefined ? {} : { prefix }));

/** The snapshot of `dir` as it appears under `prefix` ('app/') of an image. */
function under(prefix: string, tree: Map<string, TreeNode>): Map<string, TreeNode> {
  const out = new Map<string, TreeNode>();
  for (const [name, node] of tree) out.set(prefix + name, node.links ? { ...node, links: node.links.map((l) => prefix + l) } : node);
  return out;
}

/** `tree` without `paths` (and what is below them); hard-link groups shrink to the names left. */
function without(tree: Map<string, TreeNode>, ...paths: string[]): Map<string, TreeNode> {
  const gone = (name: string) => paths.some((p) => name === p || name.startsWith(`${p}/`));
  const out = new Map<string, TreeNode>();
  for (const [name, node] of tree) {
    if (gone(name)) continue;
    const links = node.links?.filter((l) => !gone(l));
    const { links: _, ...rest } = node;
    out.set(name, links && links.length > 1 ? { ...rest, links } : rest);
  }
  return out;
}

function assertSameTree(got: Map<string, TreeNode>, want: Map<string, TreeNode>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [name, node] of want) assert.deepEqual(got.get(name), node, name);
}
const isRoot = process.getuid?.() === 0;

describe('image outputs checked by real tools', () => {
  const tmp = tempDir('fastlayer-tools-');
  const src = join(tmp.path, 'src');
  const app = join(tmp.path, 'app');
  const archive = join(tmp.path, 'app.tar');
  const layout = join(tmp.path, 'layout');
  const multi = join(tmp.path, 'multi.tar');
  const dockerFormat = join(tmp.path, 'docker-format.tar');
  let built: WriteResult;
  let builtDocker: WriteResult;
  let fromLayout: WriteResult;

  before(async () => {
    mkdirSync(src);
    makeTree(src);
    mkdirSync(app);
    writeFileSync(join(app, 'main.sh'), '#!/bin/sh\necho hi\n');
    const image = (): Image => new Image({ layers: [dirLayer(src), dirLayer(app, '/app')], entrypoint: ['/bin/tool'], cmd: ['--help'], env: ['MODE=test'], workdir: '/srv', labels: { 'org.example': 'yes' }, exposedPorts: ['8080'] });
    built = await writeArchive(image(), archive, { names: ['app:1', 'localhost:5000/team/app:2'] });
    fromLayout = await writeLayout(image(), layout, { names: ['app:1'] });
    await writeArchive(new ImageIndex([
      new Image({ platform: 'linux/amd64', layers: [dirLayer(app)] }),
      new Image({ platform: 'linux/arm64', layers: [dirLayer(app)] }),
    ]), multi, { names: ['multi:1'] });
    builtDocker = await writeArchive(new Image({ format: 'docker', layers: [dirLayer(app)] }), dockerFormat, { names: ['dockerformat:1'] });
  });
  after(() => tmp.remove());

  it('skopeo inspects and copies the archive (docker-archive: and oci-archive:) and the layout (oci:), digests checked', (t) => {
    const why = missing('skopeo');
    if (why) return t.skip(why);
    const oci = JSON.parse(mustRun('skopeo', ['inspect', `oci-archive:${archive}:1`]));
    assert.equal(oci.Digest, built.digest);
    assert.deepEqual(oci.Layers, built.images[0]!.layers.map((l) => l.digest));
    const docker = JSON.parse(mustRun('skopeo', ['inspect', `docker-archive:${archive}:docker.io/library/app:1`]));
    assert.deepEqual(docker.Layers, built.images[0]!.diffIDs, 'docker-archive: lists the uncompressed layers by diffID');
    const config = JSON.parse(mustRun('skopeo', ['inspect', '--config', `oci:${layout}:1`]));
    assert.deepEqual(config.config.Entrypoint, ['/bin/tool']);
    assert.deepEqual(config.config.Env, ['MODE=test']);
    assert.deepEqual(config.config.ExposedPorts, { '8080/tcp': {} });
    assert.equal(fromLayout.digest, built.digest);
    const schema2 = JSON.parse(mustRun('skopeo', ['inspect', '--raw', `oci-archive:${dockerFormat}`]));
    assert.equal(schema2.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(schema2.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.equal(run('skopeo', ['copy', '--quiet', `docker-archive:${dockerFormat}`, `dir:${join(tmp.path, 'copy-schema2')}`]).code, 0);
    for (const [from, to] of [
      [`docker-archive:${archive}:localhost:5000/team/app:2`, `dir:${join(tmp.path, 'copy-docker')}`],
      [`oci-archive:${archive}:2`, `oci:${join(tmp.path, 'copy-oci')}:x`],
      [`oci:${layout}:1`, `dir:${join(tmp.path, 'copy-layout')}`],
    ] as const) {
      const r = run('skopeo', ['copy', '--quiet', from, to]);
      assert.equal(r.code, 0, `skopeo copy ${from} ${to}: ${r.stderr}`);
    }
  });

  it('umoci unpacks the layout into the source tree: names, bytes, modes, symlink targets, hard links sharing an inode, FIFOs, empty dirs, long and non-UTF-8 names, the prefix layer under /app', (t) => {
    const why = missing('umoci');
    if (why) return t.skip(why);
    const bundle = join(tmp.path, 'bundle');
    mustRun('umoci', ['unpack', ...(isRoot ? [] : ['--rootless']), '--image', `${layout}:1`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    const got = snapshotTree(rootfs);
    const want = snapshotTree(src);
    want.set('app', { type: 'dir', mode: statSync(app).mode & 0o7777 });
    for (const [name, node] of under('app/', snapshotTree(app))) want.set(name, node);
    // The comparison must not pass for lack of what it checks.
    assert.deepEqual(want.get(HARD_LINKS[0]!)?.links, [...HARD_LINKS].sort());
    assert.equal(want.get(FIFO)?.type, 'fifo');
    assert.equal(want.get('app/main.sh')?.type, 'file');
    assertSameTree(got, want);
    const inode = statSync(join(rootfs, HARD_LINKS[0]!)).ino;
    for (const name of HARD_LINKS) assert.equal(statSync(join(rootfs, name)).ino, inode, `${name} shares the inode`);
  });

  it("umoci applies the upper layers' whiteouts and opaque directories (buildImage: DIR with whiteouts, DIR:/opt/app, DIR:/srv/app replaced by a layer that whites it out and adds it again)", async (t) => {
    const why = missing('umoci');
    if (why) return t.skip(why);
    const upper = join(tmp.path, 'upper');
    mkdirSync(join(upper, 'bin'), { recursive: true });
    writeFileSync(join(upper, 'bin', 'new'), 'new\n');
    const v2 = join(tmp.path, 'v2');
    mkdirSync(v2);
    writeFileSync(join(v2, 'v2.txt'), 'v2\n');
    const dir = join(tmp.path, 'whiteout-layout');
    const r = await buildImage({
      layers: [
        src, { dir: upper, whiteouts: ['/etc/hello.txt', `/${LONG}`, `/${HARD_LINKS[1]}`], opaqueDirs: ['/bin'] }, `${app}:/opt/app`, `${app}:/srv/app`,
        // Replaces /srv/app: the whiteout hides the lower /srv/app, the same layer's /srv/app stays.
        { dir: v2, dest: '/srv/app', whiteouts: ['/srv/app'] },
      ],
      tags: ['wh:1'], ociDir: dir,
    });
    assert.equal(r.images[0]!.layers.length, 5);
    const bundle = join(tmp.path, 'bundle-whiteouts');
    mustRun('umoci', ['unpack', ...(isRoot ? [] : ['--rootless']), '--image', `${dir}:1`, bundle]);
    const got = snapshotTree(join(bundle, 'rootfs'));
    // /bin is opaque: only the upper layer's content is left in it; etc/tool-link outlives its other names.
    const want = without(snapshotTree(src), 'etc/hello.txt', LONG, 'bin');
    for (const [name, node] of snapshotTree(upper)) want.set(name, node);
    want.set('opt', { type: 'dir', mode: 0o755 });
    want.set('opt/app', { type: 'dir', mode: statSync(app).mode & 0o7777 });
    for (const [name, node] of under('opt/app/', snapshotTree(app))) want.set(name, node);
    want.set('srv', { type: 'dir', mode: 0o755 });
    want.set('srv/app', { type: 'dir', mode: statSync(v2).mode & 0o7777 });
    for (const [name, node] of under('srv/app/', snapshotTree(v2))) want.set(name, node);
    assert.ok(!want.has('etc/hello.txt') && want.has('etc/tool-link') && want.has('bin/new'));
    assertSameTree(got, want);
  });

  it('ctr images import --all-platforms (what k3d image import runs) lists and unpacks the image under its full names', async (t) => {
    const why = missing('containerd', 'ctr') ?? (isRoot ? undefined : 'containerd needs root here (not running as root)');
    if (why) return t.skip(why);
    const ctd = new Containerd(join(tmp.path, 'containerd'));
    mkdirSync(join(tmp.path, 'containerd'));
    await ctd.start();
    try {
      for (const file of [archive, multi, dockerFormat]) {
        const r = ctd.ctr(['-n', 'k8s.io', 'images', 'import', '--all-platforms', '--snapshotter', 'native', file]);
        assert.equal(r.code, 0, `ctr import ${file}: ${r.stderr}`);
      }
      const list = ctd.ctr(['-n', 'k8s.io', 'images', 'ls']).stdout;
      const row = (name: string): string | undefined => list.split('\n').find((l) => l.startsWith(`${name} `));
      assert.ok(row('docker.io/library/app:1')?.includes(built.digest), list);
      assert.ok(row('localhost:5000/team/app:2')?.includes(built.digest), list);
      assert.match(row('docker.io/library/multi:1') ?? '', /linux\/amd64,linux\/arm64/);
      assert.ok(row('docker.io/library/dockerformat:1')?.includes(builtDocker.digest), list);
      // Unpacked: the native snapshotter holds a committed snapshot for the image's layer chain.
      const snapshots = ctd.ctr(['-n', 'k8s.io', 'snapshots', '--snapshotter', 'native', 'ls']).stdout;
      assert.match(snapshots, new RegExp(`${built.images[0]!.diffIDs[0]}\\s+Committed`), snapshots);
      assert.equal(snapshots.split('\n').filter((l) => l.includes('Committed')).length >= 2, true, snapshots);
    } finally {
      await ctd.stop();
    }
  });

  it('podman load reads the archive under its full names', (t) => {
    const why = missing('podman');
    if (why) return t.skip(why);
    const root = join(tmp.path, 'podman');
    const common = ['--storage-driver', 'vfs', '--root', join(root, 'root'), '--runroot', join(root, 'run')];
    const r = run('podman', [...common, 'load', '-i', archive], 180_000);
    if (r.code !== 0 && /(cannot|unable to|permission|newuidmap|user namespace)/i.test(r.stderr) && !isRoot) return t.skip(`podman load cannot run here: ${r.stderr.trim().split('\n').pop()}`);
    assert.equal(r.code, 0, r.stderr);
    const images = mustRun('podman', [...common, 'images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.match(images, /^docker\.io\/library\/app:1 /m);
    assert.match(images, /^localhost:5000\/team\/app:2 /m);
    run('podman', [...common, 'system', 'reset', '--force']);
  });

  it('an image built on a base from the layout copies cleanly and keeps the base layers', async (t) => {
    const why = missing('skopeo');
    if (why) return t.skip(why);
    const base = await loadBase(layout, { name: 'app:1' });
    const out = join(tmp.path, 'on-base.tar');
    const r = await writeArchive(new Image({ base, layers: [dirLayer(app)], cmd: ['again'] }), out, { names: ['onbase:1'] });
    assert.deepEqual(r.images[0]!.layers.slice(0, 2).map((l) => l.digest), built.images[0]!.layers.map((l) => l.digest));
    const inspect = JSON.parse(mustRun('skopeo', ['inspect', `oci-archive:${out}`]));
    assert.equal(inspect.Layers.length, 3);
    assert.equal(run('skopeo', ['copy', '--quiet', `docker-archive:${out}`, `dir:${join(tmp.path, 'copy-on-base')}`]).code, 0);
  });

  it('a docker-archive written by skopeo (legacy docker save: <id>/layer.tar symlinks) is a base, kept or compressed once', async (t) => {
    const why = missing('skopeo');
    if (why) return t.skip(why);
    const saved = join(tmp.path, 'skopeo-save.tar');
    mustRun('skopeo', ['copy', '--quiet', `oci:${layout}:1`, `docker-archive:${saved}:saved:1`]);
    const keep = await loadBase(saved, { uncompressed: 'keep' });
    const kept = await writeArchive(new Image({ base: keep }), join(tmp.path, 'kept.tar'), { names: ['kept:1'] });
    assert.deepEqual(kept.images[0]!.layers.map((l) => l.digest), built.images[0]!.diffIDs, 'uncompressed layers: digest = diffID');
    const compress = await loadBase(saved, { name: 'saved:1' });
    const out = join(tmp.path, 'recompressed.tar');
    const again = await writeArchive(new Image({ base: compress }), out, { names: ['again:1'] });
    assert.deepEqual(again.images[0]!.diffIDs, built.images[0]!.diffIDs);
    assert.deepEqual(again.images[0]!.layers.map((l) => l.digest), built.images[0]!.layers.map((l) => l.digest), 'compressed once, deterministically: the original gzip digests');
    assert.equal(run('skopeo', ['copy', '--quiet', `oci-archive:${out}`, `dir:${join(tmp.path, 'copy-again')}`]).code, 0);
  });
});
