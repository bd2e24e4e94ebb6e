// Directory layers against their baselines, measured in one run (the ratios are what matter; the
// machine may be shared):
//   large files: new Layer(tarDirectory(tree)) vs Layer.fromFile(tar of the same tree), target >= 80%;
//   small files: new Layer(tarDirectory(/usr/share/doc)) vs `tar -cf - DIR | gzip -1` with SHA-256
//                of both the tar and the gzip (what a layer computes), target >= 2x.
// Both at gzip level 1. Run: node bench/dir-layers.js [--quick] [--small-dir DIR] [--size-check DIR]
// (--size-check compares the uncompressed size with GNU tar's for one directory, e.g. /usr/lib/x86_64-linux-gnu).
// --json: the rows as one JSON line at the end (what `npm run bench -- --sections dir` reads).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emit, jsonWanted, skip } from './section-io.js';

for (const tool of ['tar', 'gzip', 'sha256sum', 'bash']) {
  if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) skip(`${tool} is not installed (the baselines need it)`);
}
const { Layer, tarDirectory } = await import('../dist/index.js');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const smallDir = opt('--small-dir', '/usr/share/doc');
const sizeCheck = opt('--size-check', undefined);
const REPS = quick ? 1 : 5;
const MiB = 1024 * 1024;
const log = (m) => process.stderr.write(m + '\n');

/** Large files with the compressibility of real binaries: pieces of the biggest files in /usr/lib. */
function buildLargeTree(dir, count, size) {
  const sources = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size > 2 * MiB) sources.push(p);
    }
  };
  walk('/usr/lib');
  sources.sort();
  if (sources.length === 0) throw new Error('no file > 2 MiB under /usr/lib to build the large-file tree from');
  const buf = Buffer.allocUnsafe(MiB);
  let s = 0;
  for (let i = 0; i < count; i++) {
    const out = openSync(join(dir, `large-${i}.bin`), 'w');
    for (let written = 0; written < size; ) {
      const src = openSync(sources[s++ % sources.length], 'r');
      let n;
      while (written < size && (n = readSync(src, buf, 0, Math.min(MiB, size - written))) > 0) {
        writeSync(out, buf, 0, n);
        written += n;
      }
      closeSync(src);
    }
    closeSync(out);
  }
}

// The same input must give the same digest every time: a second value is a failure, not noise.
const digests = new Map();
async function drain(layer, what) {
  for await (const chunk of layer.compressed()) void chunk;
  const values = await layer.done;
  const digest = layer.digest().toString();
  const seen = digests.get(what);
  if (seen && seen !== digest) throw new Error(`${what}: digest ${digest} differs from an earlier run's ${seen}`);
  digests.set(what, digest);
  return values;
}

/** Wall time, and CPU time of this process (all its threads) or what fn reports for its children. */
async function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const result = await fn();
  const c = process.cpuUsage(c0);
  const cpu = typeof result?.cpu === 'number' ? result.cpu : (c.user + c.system) / 1e6;
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu, result };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (bytes, s) => `${(bytes / s / 1e6).toFixed(1)} MB/s`;

function tarBytes(dir) {
  const r = spawnSync('bash', ['-c', 'tar -cf - -C "$1" . | wc -c', 'sh', dir], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

const work = mkdtempSync(join(tmpdir(), 'fastlayer-dir-bench-'));
try {
  const rows = [];
  // Large files.
  const tree = join(work, 'large');
  mkdirSync(tree);
  const count = quick ? 2 : 8;
  const each = (quick ? 32 : 128) * MiB;
  log(`building ${count} x ${each / MiB} MiB files...`);
  buildLargeTree(tree, count, each);
  const tarFile = join(work, 'large.tar');
  const t = spawnSync('tar', ['-c', '--sort=name', '-f', tarFile, '-C', tree, '.']);
  if (t.status !== 0) throw new Error(`tar failed: ${t.stderr}`);
  const tarSize = statSync(tarFile).size;
  const fromFile = [];
  const fromDir = [];
  // Warm-up: both read the same bytes from the page cache afterwards.
  await drain(Layer.fromFile(tarFile, { compressionLevel: 1 }), 'large fromFile');
  await drain(new Layer(tarDirectory(tree, { mtime: 0 }), { compressionLevel: 1 }), 'large dir');
  for (let i = 0; i < REPS; i++) {
    fromFile.push(await timeIt(() => drain(Layer.fromFile(tarFile, { compressionLevel: 1 }), 'large fromFile')));
    fromDir.push(await timeIt(() => drain(new Layer(tarDirectory(tree, { mtime: 0 }), { compressionLevel: 1 }), 'large dir')));
  }
  const ff = median(fromFile.map((r) => r.seconds));
  const fd = median(fromDir.map((r) => r.seconds));
  const ffCpu = median(fromFile.map((r) => r.cpu));
  const fdCpu = median(fromDir.map((r) => r.cpu));
  rows.push(['large files: Layer.fromFile(tar)', rate(tarSize, ff), `CPU ${ffCpu.toFixed(2)} s`]);
  rows.push([
    'large files: tarDirectory -> Layer', rate(tarSize, fd),
    `${((ff / fd) * 100).toFixed(0)}% of fromFile (target >= 80%); CPU ${fdCpu.toFixed(2)} s (${((ffCpu / fdCpu) * 100).toFixed(0)}% of fromFile's efficiency)`,
  ]);

  const result = {
    section: 'dir', quick, reps: REPS, level: 1,
    large: { files: count, bytes: tarSize, fromFileMBps: tarSize / ff / 1e6, dirMBps: tarSize / fd / 1e6, ratio: ff / fd,
      fromFileCpuSeconds: ffCpu, dirCpuSeconds: fdCpu },
    small: null,
    notes: [],
  };

  // Small files.
  if (!existsSync(smallDir)) {
    result.notes.push(`${smallDir} does not exist: no small-files rows`);
    log(`note: ${result.notes.at(-1)}`);
  } else {
    const small = tarBytes(smallDir);
    const shell = [];
    const ours = [];
    await drain(new Layer(tarDirectory(smallDir, { mtime: 0 }), { compressionLevel: 1 }), 'small dir');
    // `times` prints the children's user and system CPU on its second line.
    const pipeline = 'set -o pipefail; tar -cf - -C "$1" . | tee >(sha256sum >/dev/null) | gzip -1 | sha256sum >/dev/null; wait; times';
    for (let i = 0; i < REPS; i++) {
      shell.push(await timeIt(async () => {
        const r = spawnSync('bash', ['-c', pipeline, 'sh', smallDir], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
        const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/.exec(r.stdout.trim().split('\n').pop());
        return { cpu: m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN };
      }));
      ours.push(await timeIt(() => drain(new Layer(tarDirectory(smallDir, { mtime: 0 }), { compressionLevel: 1 }), 'small dir')));
    }
    const sh = median(shell.map((r) => r.seconds));
    const us = median(ours.map((r) => r.seconds));
    const shCpu = median(shell.map((r) => r.cpu));
    const usCpu = median(ours.map((r) => r.cpu));
    rows.push([`small files (${smallDir}): tar | gzip -1 + sha256 x2`, rate(small, sh), `CPU ${shCpu.toFixed(2)} s`]);
    rows.push([
      `small files (${smallDir}): tarDirectory -> Layer`, rate(small, us),
      `${(sh / us).toFixed(2)}x the shell pipeline (target >= 2x); CPU ${usCpu.toFixed(2)} s (${(shCpu / usCpu).toFixed(2)}x less)`,
    ]);
    result.small = { dir: smallDir, bytes: small, shellMBps: small / sh / 1e6, dirMBps: small / us / 1e6, ratio: sh / us,
      shellCpuSeconds: Number.isFinite(shCpu) ? shCpu : null, dirCpuSeconds: usCpu };
  }

  if (sizeCheck) {
    let n = 0;
    for await (const c of tarDirectory(sizeCheck, { mtime: 0 })) n += c.length;
    const gnu = tarBytes(sizeCheck);
    result.sizeCheck = { dir: sizeCheck, bytes: n, gnuTarBytes: gnu };
    rows.push([`size of ${sizeCheck}: fastlayer / GNU tar`, `${n} / ${gnu} bytes`, `${(((n - gnu) / gnu) * 100).toFixed(2)}% (target within 1%)`]);
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  const out = jsonWanted ? console.error : console.log;
  out(`directory layers (${quick ? 'quick' : 'full'}, median of ${REPS}, gzip level 1, node ${process.version})`);
  for (const [name, value, note] of rows) out(`${name.padEnd(width)}  ${value.padStart(14)}  ${note}`);
  emit(result);
} finally {
  rmSync(work, { recursive: true, force: true });
}
