// eStargz against the upstream tool (issue 23): fastlayer's eStargz writer against
// `ctr-remote images convert --estargz --oci` (Debian's stargz-snapshotter package) of the same
// realistic corpus, at the same compression level, each on every core it takes by default. The
// source image (one gzip layer of the corpus tar, made by fastlayer, not timed) is imported into a
// private containerd (own root, state and socket in a temp folder) without unpacking; ctr-remote
// then reads that layer from the content store, gunzips it and writes the eStargz layer, its TOC and
// a new manifest back. fastlayer reads the corpus tar and writes its eStargz blob to a file in the same
// temp folder. Throughput is corpus MB per second of wall time; the goal is fastlayer >= 3x.
// Run: node bench/estargz-convert.js [--quick] [--levels 1,9] [--json]   (needs `npm run build`; root, containerd,
// ctr and ctr-remote, else it is skipped with the reason)
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureCorpus } from './corpus.js';
import { emit, isUnavailable, jsonWanted, skip } from './section-io.js';

const quick = process.argv.includes('--quick');
const MB = 1e6;
const sizeMB = quick ? 32 : 200;
const runs = quick ? 1 : 3;
// Both at the same level: 1 (fastlayer's default, the fastest either writes) and 9 (ctr-remote's
// default). Level 9 is zlib/flate's slowest search on either side, so the two come closest there.
// --quick (CI's smoke run) does level 1 only: level 9 is the same code path at a quarter of the speed.
// --levels 1,6 picks others.
const levelsAt = process.argv.indexOf('--levels');
const levels = levelsAt > 0 ? process.argv[levelsAt + 1].split(',').map(Number) : quick ? [1] : [1, 9];
if (!levels.every((l) => Number.isInteger(l) && l >= 1 && l <= 9)) throw new Error(`--levels: a list of 1-9, not ${process.argv[levelsAt + 1]}`);
const out = jsonWanted ? console.error : console.log;

const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
if (process.getuid?.() !== 0) skip('not root: the private containerd ctr-remote converts in needs root');
for (const tool of ['containerd', 'ctr', 'ctr-remote']) {
  if (!has(tool)) skip(`${tool} is not installed (apt-get install ${tool === 'ctr-remote' ? 'stargz-snapshotter' : 'containerd'})`);
}

const { Image, Layer, writeArchive } = await import('../dist/index.js');
const { estargzLayer } = await import('../dist/estargz/index.js');
const defaultThreads = Math.min(availableParallelism(), 4);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const dir = mkdtempSync(join(tmpdir(), 'fastlayer-bench-convert-'));
const socket = join(dir, 'containerd.sock');
let containerd;

function ctr(command, args) {
  const r = spawnSync(command, ['-a', socket, ...args], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.error ?? ''}`);
  return r.stdout;
}

async function startContainerd() {
  const config = join(dir, 'config.toml');
  writeFileSync(config, [
    'version = 2',
    `root = ${JSON.stringify(join(dir, 'root'))}`,
    `state = ${JSON.stringify(join(dir, 'state'))}`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${JSON.stringify(socket)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
    '',
  ].join('\n'));
  let log = '';
  containerd = spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  containerd.stderr.on('data', (b) => {
    if (log.length < 20_000) log += b.toString();
  });
  const deadline = Date.now() + 20_000;
  while (!(existsSync(socket) && spawnSync('ctr', ['-a', socket, 'version']).status === 0)) {
    if (containerd.exitCode !== null || Date.now() > deadline) throw new Error(`containerd did not start: ${log.slice(-2000)}`);
    await sleep(100);
  }
}

async function stopContainerd() {
  if (!containerd || containerd.exitCode !== null) return;
  const exited = new Promise((resolve) => containerd.once('exit', resolve));
  containerd.kill('SIGTERM');
  await exited;
}

async function fastlayer(path, level) {
  const l = estargzLayer(createReadStream(path, { highWaterMark: 1 << 20 }), { compressionLevel: level, threads: defaultThreads, engine: 'native' });
  await pipeline(l.stream, createWriteStream(join(dir, 'fastlayer.esgz')));
  const v = await l.done;
  return { size: v.size, digest: v.digest };
}

let converted = 0;
/** The timed part: one convert into a new name. */
function convert(level) {
  const target = `docker.io/bench/esgz:${++converted}`;
  ctr('ctr-remote', ['images', 'convert', '--estargz', '--oci', '--estargz-compression-level', String(level), 'docker.io/bench/src:1', target]);
  return { target };
}

/** Not timed: the converted layer must be eStargz (its descriptor carries the TOC digest); then it is removed, so the next run writes its blobs anew. */
function checkAndRemove(target) {
  const row = ctr('ctr', ['images', 'ls']).split('\n').find((l) => l.startsWith(`${target} `));
  let digest = row?.match(/sha256:[0-9a-f]{64}/)?.[0];
  if (!digest) throw new Error(`ctr images ls has no ${target}`);
  let manifest = JSON.parse(ctr('ctr', ['content', 'get', digest]));
  if (manifest.manifests) manifest = JSON.parse(ctr('ctr', ['content', 'get', manifest.manifests[0].digest]));
  const layer = manifest.layers?.[0];
  if (!layer?.annotations?.['containerd.io/snapshot/stargz/toc.digest']) throw new Error(`ctr-remote's output layer has no TOC digest: ${JSON.stringify(layer)}`);
  ctr('ctr', ['images', 'rm', '--sync', target]);
  return layer.size;
}

async function timed(fn) {
  const started = process.hrtime.bigint();
  const r = await fn();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, ...r };
}

const rows = [];
try {
  const corpus = await ensureCorpus('realistic', sizeMB, () => {});
  await startContainerd();
  const archive = join(dir, 'src.tar');
  try {
    await writeArchive(new Image({ layers: [Layer.fromFile(corpus.path, { compressionLevel: 6, engine: 'native' })] }), archive, { names: ['docker.io/bench/src:1'] });
  } catch (err) {
    if (isUnavailable(err)) skip(`the native engine is unavailable: ${err.message}`);
    throw err;
  }
  ctr('ctr', ['images', 'import', '--no-unpack', archive]);
  // ctr-remote --version prints containerd's version; the package's is the snapshotter's.
  const pkg = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'stargz-snapshotter'], { encoding: 'utf8' });
  const version = pkg.status === 0 ? `stargz-snapshotter ${pkg.stdout.trim()}` : spawnSync('ctr-remote', ['--version'], { encoding: 'utf8' }).stdout.trim();
  out(`realistic: ${(corpus.bytes / MB).toFixed(1)} MB, ${runs} run(s), median; ${version}; fastlayer on ${defaultThreads} threads`);
  for (const level of levels) {
    const f = [];
    const c = [];
    for (let i = 0; i < runs; i++) {
      // Interleaved, so both see the same machine load.
      f.push(await timed(() => fastlayer(corpus.path, level)));
      const t = await timed(async () => convert(level));
      c.push({ ...t, size: checkAndRemove(t.target) });
    }
    const fs = median(f.map((x) => x.seconds));
    const cs = median(c.map((x) => x.seconds));
    const row = {
      level,
      fastlayerMBps: corpus.bytes / MB / fs,
      ctrRemoteMBps: corpus.bytes / MB / cs,
      ratio: cs / fs,
      fastlayerSize: f[0].size,
      ctrRemoteSize: c[0].size,
    };
    rows.push(row);
    out(`  level ${level}: fastlayer ${row.fastlayerMBps.toFixed(1)} MB/s, ctr-remote convert ${row.ctrRemoteMBps.toFixed(1)} MB/s (x${row.ratio.toFixed(2)}), size ${(100 * row.fastlayerSize / row.ctrRemoteSize).toFixed(1)}% of ctr-remote's`);
  }
  emit({ section: 'estargz-convert', quick, runs, defaultThreads, bytes: corpus.bytes, version, rows });
} finally {
  await stopContainerd();
  rmSync(dir, { recursive: true, force: true });
}
