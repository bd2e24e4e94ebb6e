// An eStargz image pushed by `fastlayer image --compression estargz --push`, pulled lazily by the
// real stargz-snapshotter (issue 23's acceptance): docker-registry on 127.0.0.1 with its access log
// on; the snapshotter daemon (test/tools/stargz-snapshotter.go, built from Debian's Go sources by
// test/helpers/go-tool.ts) with noprefetch and no_background_fetch, so that only what is read is
// fetched; a private containerd that reaches it through a proxy_plugins entry; `ctr-remote images
// rpull --plain-http`. Checked: every GET
// of the layer blob is answered 206 (a range), the layer is a FUSE mount, reading one small file and
// starting a process fetch well under a quarter of the blob, every file read through the mount
// matches the source, `ctr run --snapshotter stargz` runs; and the same image loads as an ordinary
// gzip image (skopeo copy, ctr images import, ctr run on the native snapshotter, podman load).
// Skipped, with the reason, only where the machine cannot do it: not root, no /dev/fuse, a tool or
// Debian's Go sources missing. CI runs it as root with FUSE.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { binMissing, runCliAsync } from '../helpers/cli.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';
import { goTool } from '../helpers/go-tool.js';
import { Containerd, missing, run, snapshotTree, tempDir } from '../helpers/image.js';
import { registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const TOC_DIGEST = 'containerd.io/snapshot/stargz/toc.digest';
const UNCOMPRESSED_SIZE = 'io.containers.estargz.uncompressed-size';
const HELLO = 'hello from a lazily pulled layer\n';

function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: containerd, the FUSE mounts and overlayfs need root';
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse: the lazy mounts are FUSE mounts';
  return binMissing() ?? registryMissing() ?? missing('containerd', 'ctr', 'ctr-remote', 'runc', 'skopeo', 'ldd');
}

/**
 * The rootfs: a shell and cat with the libraries ldd names (so a process can start on it), a small
 * text file, a symlink, and 19 MB of data no process reads (random and text-like, so the blob is
 * about 13 MB and "a quarter" means something).
 */
function makeRootfs(root: string): void {
  for (const tool of ['/bin/sh', '/bin/cat']) {
    const libs = run('ldd', [tool]).stdout.match(/\/\S+/g) ?? [];
    for (const file of [tool, ...libs]) {
      mkdirSync(join(root, dirname(file)), { recursive: true });
      copyFileSync(file, join(root, file)); // follows symlinks: /bin/sh is dash's bytes
    }
  }
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/hello.txt'), HELLO);
  symlinkSync('hello.txt', join(root, 'etc/hello-link'));
  mkdirSync(join(root, 'data/docs'), { recursive: true });
  writeFileSync(join(root, 'data/random-0'), randomBytes(5_000_000, 31));
  writeFileSync(join(root, 'data/random-1'), randomBytes(5_000_000, 32));
  writeFileSync(join(root, 'data/text'), semiCompressible(9_000_000, 33));
  for (let i = 0; i < 40; i++) writeFileSync(join(root, `data/docs/page-${i}.txt`), semiCompressible(1000 + i * 500, 100 + i));
}

/**
 * `fastlayer image --compression estargz --push`: `root` as the one layer of an OCI image. Returns the
 * layer's descriptor from the pushed manifest, which must carry the snapshotter's annotations.
 */
async function pushEstargz(root: string, ref: string, host: string): Promise<{ digest: string; size: number }> {
  const env = { ...process.env, DOCKER_CONFIG: join(root, '..', 'no-docker-config') };
  const cmd = JSON.stringify(['/bin/sh', '-c', 'echo started; cat /etc/hello.txt']);
  const push = await runCliAsync(['image', '--layer', root, '--compression', 'estargz', '--no-layer-cache', '--cmd', cmd, '--push', ref, '--quiet'], env);
  assert.equal(push.status, 0, `fastlayer image --push: ${push.stderr}`);
  const res = await fetch(`http://${host}/v2/lazy/app/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const manifest = (await res.json()) as { layers: { digest: string; size: number; annotations?: Record<string, string> }[] };
  assert.equal(manifest.layers.length, 1);
  const layer = manifest.layers[0]!;
  assert.match(layer.annotations?.[TOC_DIGEST] ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.match(layer.annotations?.[UNCOMPRESSED_SIZE] ?? '', /^[1-9][0-9]*$/);
  return { digest: layer.digest, size: layer.size };
}

interface BlobRequest {
  method: string;
  status: number;
  bytes: number;
}

/**
 * The registry's access log once no line came for 150 ms. The tools run with spawnSync, which holds
 * the event loop: the lines of their requests arrive after it returns.
 */
async function settledLog(registry: RunningRegistry): Promise<string[]> {
  for (let seen = -1; seen !== registry.accessLog().length; ) {
    seen = registry.accessLog().length;
    await sleep(150);
  }
  return registry.accessLog();
}

/** The access log's requests of one blob, from line `from` on (the push's own requests come before). */
async function blobRequests(registry: RunningRegistry, digest: string, from: number): Promise<BlobRequest[]> {
  const pattern = new RegExp(`"(GET|HEAD) /v2/[^ ]+/blobs/${digest} HTTP/[0-9.]+" (\\d{3}) (\\d+|-)`);
  return (await settledLog(registry)).slice(from).flatMap((line) => {
    const m = pattern.exec(line);
    return m ? [{ method: m[1]!, status: Number(m[2]), bytes: m[3] === '-' ? 0 : Number(m[3]) }] : [];
  });
}

/** Every GET answered 206 and every HEAD without a body; the bytes the GETs carried. */
function rangedOnly(requests: BlobRequest[]): number {
  for (const r of requests) {
    if (r.method === 'GET') assert.equal(r.status, 206, `a GET of the layer blob was answered ${r.status}, not a range: ${JSON.stringify(requests)}`);
    else assert.equal(r.bytes, 0, `a HEAD of the layer blob carried a body: ${JSON.stringify(requests)}`);
  }
  return requests.reduce((sum, r) => sum + r.bytes, 0);
}

/** Mount points under `below` with a FUSE file system type, from /proc/self/mountinfo. */
function fuseMounts(below: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    const point = left?.split(' ')[4]?.replace(/\\040/g, ' ');
    return point && right?.startsWith('fuse') && point.startsWith(`${below}/`) ? [point] : [];
  });
}

/** Lazily unmounts whatever is still mounted under `below`, deepest first (after a crashed daemon). */
function unmountAll(below: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((p): p is string => p !== undefined && p.startsWith(`${below}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p]);
}

/** The snapshotter daemon on `socket`; resolves once it serves. */
async function startSnapshotter(bin: string, dir: string, socket: string): Promise<{ child: ChildProcess; log: () => string }> {
  const config = join(dir, 'config.toml');
  // Without these the snapshotter prefetches and then fetches the whole blob in the background.
  writeFileSync(config, 'noprefetch = true\nno_background_fetch = true\n');
  const child = spawn(bin, ['-address', socket, '-root', join(dir, 'root'), '-config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (log.length < 100_000) log += b.toString();
  });
  const deadline = Date.now() + 15_000;
  while (!/serving on/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the stargz snapshotter did not start: ${log}`);
    }
    await sleep(50);
  }
  return { child, log: () => log };
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe('an eStargz image from fastlayer, pulled lazily by stargz-snapshotter', () => {
  const skip = cannotRun();
  const tmp = tempDir('fastlayer-lazy-pull-');
  const rootfs = join(tmp.path, 'rootfs');
  const snRoot = join(tmp.path, 'snapshotter');
  let tool: { bin?: string; skip?: string } = {};
  let registry: RunningRegistry | undefined;
  let snapshotter: { child: ChildProcess; log: () => string } | undefined;
  let ctd: Containerd | undefined;
  let ref = '';
  let blob = { digest: '', size: 0 };
  let mount = '';
  let pushed = 0; // access log lines of the push
  const why = (): string | undefined => skip ?? tool.skip;

  before(async () => {
    if (skip) return;
    tool = goTool('stargz-snapshotter');
    if (tool.skip) return;
    makeRootfs(rootfs);
    registry = await startRegistry({ kind: 'none' }, { accessLog: true });
    ref = `${registry.host}/lazy/app:1`;
    blob = await pushEstargz(rootfs, ref, registry.host);
    pushed = (await settledLog(registry)).length;
    mkdirSync(snRoot);
    const socket = join(snRoot, 'sn.sock');
    snapshotter = await startSnapshotter(tool.bin!, snRoot, socket);
    mkdirSync(join(tmp.path, 'containerd'));
    ctd = new Containerd(join(tmp.path, 'containerd'), [
      '[proxy_plugins]',
      '  [proxy_plugins.stargz]',
      '    type = "snapshot"',
      `    address = ${JSON.stringify(socket)}`,
    ]);
    await ctd.start();
  });

  after(async () => {
    await ctd?.stop();
    await stopChild(snapshotter?.child); // SIGTERM: it unmounts its FUSE layers and snapshots
    unmountAll(tmp.path);
    await registry?.stop();
    tmp.remove();
  });

  it('ctr-remote images rpull mounts the layer over FUSE after ranged reads of its footer and TOC only', async (t) => {
    if (why()) return t.skip(why());
    const r = ctd!.ctr(['images', 'rpull', '--plain-http', ref], 120_000, 'ctr-remote');
    assert.equal(r.code, 0, `rpull: ${r.stderr}\n${snapshotter!.log()}`);
    const mounts = fuseMounts(snRoot);
    assert.equal(mounts.length, 1, `FUSE mounts under the snapshotter's root: ${JSON.stringify(mounts)}\n${snapshotter!.log()}`);
    mount = mounts[0]!;
    const requests = await blobRequests(registry!, blob.digest, pushed);
    assert.ok(requests.some((q) => q.method === 'GET'), 'the snapshotter never read the layer blob');
    const fetched = rangedOnly(requests);
    assert.ok(fetched < blob.size / 4, `the pull fetched ${fetched} of ${blob.size} bytes`);
    // containerd's content store never got the layer: it was not downloaded.
    assert.doesNotMatch(ctd!.ctr(['content', 'ls', '-q']).stdout, new RegExp(blob.digest));
    t.diagnostic(`pull: ${requests.length} requests of the layer blob, ${fetched} of ${blob.size} bytes`);
  });

  it('reading one small file through the mount fetches a range of the blob, and the file matches the source', async (t) => {
    if (why()) return t.skip(why());
    assert.ok(mount, 'no mount from the pull');
    const from = (await settledLog(registry!)).length;
    assert.equal(readFileSync(join(mount, 'etc/hello.txt'), 'utf8'), HELLO);
    const fetched = rangedOnly(await blobRequests(registry!, blob.digest, from));
    assert.ok(fetched < blob.size / 4, `reading etc/hello.txt fetched ${fetched} of ${blob.size} bytes`);
    t.diagnostic(`etc/hello.txt: ${fetched} bytes fetched`);
  });

  it('ctr run --snapshotter stargz starts a process on the lazily pulled rootfs; all fetched so far is under a quarter of the blob', async (t) => {
    if (why()) return t.skip(why());
    const r = ctd!.ctr(['run', '--rm', '--snapshotter', 'stargz', ref, `fastlayer-lazy-${process.pid}`], 120_000);
    assert.equal(r.code, 0, `ctr run: ${r.stderr}\n${snapshotter!.log()}`);
    assert.equal(r.stdout, `started\n${HELLO}`);
    const fetched = rangedOnly(await blobRequests(registry!, blob.digest, pushed));
    assert.ok(fetched < blob.size / 4, `pull, read and start fetched ${fetched} of ${blob.size} bytes`);
    t.diagnostic(`pull + one file + ctr run: ${fetched} of ${blob.size} bytes (${((100 * fetched) / blob.size).toFixed(1)}%)`);
  });

  it('every file read through the mount matches the source, by ranged reads only', async (t) => {
    if (why()) return t.skip(why());
    assert.ok(mount, 'no mount from the pull');
    const got = snapshotTree(mount);
    const want = snapshotTree(rootfs);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [name, node] of want) assert.deepEqual(got.get(name), node, name);
    const fetched = rangedOnly(await blobRequests(registry!, blob.digest, pushed));
    t.diagnostic(`after reading every file: ${fetched} of ${blob.size} bytes fetched`);
  });

  it('the same image loads as an ordinary gzip image: skopeo copy, ctr images import, ctr run, podman load', async (t) => {
    if (why()) return t.skip(why());
    const archive = join(tmp.path, 'app.tar');
    const copied = run('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `docker-archive:${archive}:docker.io/lazy/app:gzip`], 180_000);
    assert.equal(copied.code, 0, `skopeo copy: ${copied.stderr}`);
    // skopeo read the whole blob in one GET, as any puller of a gzip layer does.
    assert.ok((await blobRequests(registry!, blob.digest, pushed)).some((q) => q.method === 'GET' && q.status === 200 && q.bytes === blob.size));
    const imported = ctd!.ctr(['images', 'import', '--snapshotter', 'native', archive]);
    assert.equal(imported.code, 0, `ctr images import: ${imported.stderr}`);
    const ran = ctd!.ctr(['run', '--rm', '--snapshotter', 'native', 'docker.io/lazy/app:gzip', `fastlayer-gzip-${process.pid}`]);
    assert.equal(ran.code, 0, `ctr run (native): ${ran.stderr}`);
    assert.equal(ran.stdout, `started\n${HELLO}`);
    // The unpacked layer is the source tree plus eStargz's two entries of its own (in every eStargz
    // layer, as upstream writes them; the lazy mount hides them): the native snapshotter's committed snapshot.
    const snapshots = join(tmp.path, 'containerd/root/io.containerd.snapshotter.v1.native/snapshots');
    // (The container's own snapshot may be going away under the garbage collector meanwhile.)
    const trees = readdirSync(snapshots).flatMap((id) => {
      try {
        return [snapshotTree(join(snapshots, id))];
      } catch {
        return [];
      }
    });
    const want = snapshotTree(rootfs);
    const differences = (tree: Map<string, unknown>): string[] => [...new Set([...tree.keys(), ...want.keys()])]
      .filter((name) => JSON.stringify(tree.get(name)) !== JSON.stringify(want.get(name)));
    const own = JSON.stringify(['.no.prefetch.landmark', 'stargz.index.json']);
    assert.ok(trees.some((tree) => JSON.stringify(differences(tree).sort()) === own),
      `no native snapshot holds the source tree; names that differ: ${JSON.stringify(trees.map((tree) => differences(tree).slice(0, 5)))}`);
    if (missing('podman')) return t.diagnostic('podman is not installed: podman load not tried');
    const storage = join(tmp.path, 'podman');
    const common = ['--storage-driver', 'vfs', '--root', join(storage, 'root'), '--runroot', join(storage, 'run')];
    const loaded = run('podman', [...common, 'load', '-i', archive], 180_000);
    assert.equal(loaded.code, 0, `podman load: ${loaded.stderr}`);
    assert.match(run('podman', [...common, 'images', '--format', '{{.Repository}}:{{.Tag}}']).stdout, /^docker\.io\/lazy\/app:gzip$/m);
    run('podman', [...common, 'system', 'reset', '--force']);
  });
});
