// Issue 15's acceptance: an OCI image whose directory layer is zstd-compressed (buildImage with
// layerOptions { compression: 'zstd' }), written as an archive, read by the real tools: skopeo
// (inspect both transports; copy to a layout, which verifies every blob's digest), umoci (the
// unpacked tree is the source tree) and containerd (ctr import, what k3d image import runs, unpacks
// it). Each test skips with the exact reason when its tool is missing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildImage } from '../../src/build/build.js';
import type { WriteResult } from '../../src/image/write.js';
import { Containerd, HARD_LINKS, FIFO, makeTree, missing, mustRun, run, snapshotTree, tempDir } from '../helpers/image.js';

const OCI_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const isRoot = process.getuid?.() === 0;

describe('zstd image (issue 15) checked by real tools', () => {
  const tmp = tempDir('fastlayer-zstd-image-');
  const src = join(tmp.path, 'src');
  const archive = join(tmp.path, 'zstd.tar');
  let built: WriteResult;

  before(async () => {
    mkdirSync(src);
    makeTree(src);
    built = await buildImage({
      layers: [src], tags: ['zstd-app:1'], output: archive, entrypoint: '["/bin/tool"]',
      layerOptions: { compression: 'zstd', compressionLevel: 9 },
    });
  });
  after(() => tmp.remove());

  it('the manifest lists a zstd layer whose diffID is the tar (not the zstd bytes)', () => {
    const layer = built.images[0]!.layers[0]!;
    assert.equal(layer.mediaType, OCI_ZSTD);
    assert.notEqual(layer.digest, built.images[0]!.diffIDs[0]);
  });

  it('skopeo inspects oci-archive: and docker-archive:, and copies oci-archive: into oci: (digests verified)', (t) => {
    const why = missing('skopeo');
    if (why) return t.skip(why);
    const oci = JSON.parse(mustRun('skopeo', ['inspect', `oci-archive:${archive}:1`])) as { Digest: string; Layers: string[] };
    assert.equal(oci.Digest, built.digest);
    assert.deepEqual(oci.Layers, built.images[0]!.layers.map((l) => l.digest));
    const raw = JSON.parse(mustRun('skopeo', ['inspect', '--raw', `oci-archive:${archive}:1`])) as { layers: { mediaType: string }[] };
    assert.equal(raw.layers[0]!.mediaType, OCI_ZSTD);
    const docker = JSON.parse(mustRun('skopeo', ['inspect', `docker-archive:${archive}:docker.io/library/zstd-app:1`])) as { Layers: string[] };
    assert.deepEqual(docker.Layers, built.images[0]!.diffIDs, 'docker-archive: lists the layers by diffID');
    const copy = join(tmp.path, 'copy');
    const r = run('skopeo', ['copy', '--quiet', `oci-archive:${archive}:1`, `oci:${copy}:1`]);
    assert.equal(r.code, 0, `skopeo copy: ${r.stderr}`);
    const copied = JSON.parse(mustRun('skopeo', ['inspect', '--raw', `oci:${copy}:1`])) as { layers: { digest: string; mediaType: string }[] };
    assert.deepEqual(copied.layers.map((l) => [l.mediaType, l.digest]), [[OCI_ZSTD, built.images[0]!.layers[0]!.digest]], 'copied as is');
  });

  /** The source tree's snapshot, checked to hold what the comparison is about. */
  function wanted(): ReturnType<typeof snapshotTree> {
    const want = snapshotTree(src);
    // The comparison must not pass for lack of what it checks.
    assert.deepEqual(want.get(HARD_LINKS[0]!)?.links, [...HARD_LINKS].sort());
    assert.equal(want.get(FIFO)?.type, 'fifo');
    return want;
  }

  function assertTree(root: string): void {
    const got = snapshotTree(root);
    const want = wanted();
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [name, node] of want) assert.deepEqual(got.get(name), node, name);
  }

  it('the layer blob, zstd -dc | tar -x, is the source tree', (t) => {
    const why = missing('skopeo', 'zstd', 'tar');
    if (why) return t.skip(why);
    const layout = join(tmp.path, 'layout-tar');
    const r = run('skopeo', ['copy', '--quiet', `oci-archive:${archive}:1`, `oci:${layout}:1`]);
    assert.equal(r.code, 0, `skopeo copy: ${r.stderr}`);
    const blob = join(layout, 'blobs', 'sha256', built.images[0]!.layers[0]!.digest.slice(7));
    const root = join(tmp.path, 'untarred');
    mkdirSync(root);
    const x = spawnSync('sh', ['-c', 'zstd -dc "$0" | tar -x --numeric-owner -C "$1"', blob, root], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(x.status, 0, x.stderr);
    assertTree(root);
  });

  it('umoci unpacks the layout (skopeo copy of the archive) into the source tree', (t) => {
    const why = missing('skopeo', 'umoci');
    if (why) return t.skip(why);
    const layout = join(tmp.path, 'layout');
    const r = run('skopeo', ['copy', '--quiet', `oci-archive:${archive}:1`, `oci:${layout}:1`]);
    assert.equal(r.code, 0, `skopeo copy: ${r.stderr}`);
    const bundle = join(tmp.path, 'bundle');
    const u = run('umoci', ['unpack', ...(isRoot ? [] : ['--rootless']), '--image', `${layout}:1`, bundle]);
    // Older umoci releases (Debian 12 ships 0.4.7) know gzip and uncompressed layers only.
    if (u.code !== 0 && u.stderr.includes(`blob is not correct mediatype: ${OCI_ZSTD}`)) {
      return t.skip(`this umoci (${mustRun('umoci', ['--version']).trim()}) cannot unpack zstd layers: "blob is not correct mediatype: ${OCI_ZSTD}"`);
    }
    assert.equal(u.code, 0, `umoci unpack: ${u.stderr}`);
    assertTree(join(bundle, 'rootfs'));
  });

  it('ctr -n k8s.io images import --all-platforms imports and unpacks it (what k3d image import runs)', async (t) => {
    const why = missing('containerd', 'ctr') ?? (isRoot ? undefined : 'containerd needs root here (not running as root)');
    if (why) return t.skip(why);
    const dir = join(tmp.path, 'containerd');
    mkdirSync(dir);
    const ctd = new Containerd(dir);
    await ctd.start();
    try {
      const r = ctd.ctr(['-n', 'k8s.io', 'images', 'import', '--all-platforms', '--snapshotter', 'native', archive]);
      assert.equal(r.code, 0, `ctr import: ${r.stderr}`);
      const list = ctd.ctr(['-n', 'k8s.io', 'images', 'ls']).stdout;
      const row = list.split('\n').find((l) => l.startsWith('docker.io/library/zstd-app:1 '));
      assert.ok(row?.includes(built.digest), list);
      // Unpacked: a committed snapshot named by the layer's diffID, so containerd decompressed the zstd
      // layer and its content hashed to the diffID in the config.
      const snapshots = ctd.ctr(['-n', 'k8s.io', 'snapshots', '--snapshotter', 'native', 'ls']).stdout;
      assert.match(snapshots, new RegExp(`${built.images[0]!.diffIDs[0]}\\s+Committed`), snapshots);
    } finally {
      await ctd.stop();
    }
  });
});
