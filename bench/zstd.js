// zstd bench (standalone): fastlayer zstd levels 1, 3, 9, 19 (native, 1 thread and the default
// threads) against `zstd -L -T1` / `-T0` plus sha256sum for both hashes, and against fastlayer gzip
// levels 1 and 6, on the benchmark corpora. Throughput is input MB per second of wall time, reported
// as a ratio to `zstd -3 -T1` + both hashes measured in the same run; sizes as % of the input.
// Run: node bench/zstd.js [--quick] [--json]   (needs `npm run build`; the zstd command for the baselines)
// --quick: the 32 MB realistic tar only (the corpus the quick pipelines use), one run.
// Fails (exit 1) when a diffID is not the corpus SHA-256 or the thread count changes the bytes.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { ensureCorpus } from './corpus.js';
import { emit, isUnavailable, jsonWanted, skip } from './section-io.js';

const quick = process.argv.includes('--quick');
const MB = 1e6;
const { Layer } = await import('../dist/index.js');
const corpora = quick ? [['realistic', 32]] : [['realistic', 200], ['text', 64], ['random', 64]];
const runs = quick ? 1 : 3;
const defaultThreads = Math.min(availableParallelism(), 4);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function layerRun(path, options) {
  const times = [];
  let size = 0;
  let diffID;
  const digests = new Set();
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const layer = Layer.fromFile(path, options);
    for await (const _ of layer.compressed()) void _;
    const values = await layer.done;
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
    size = values.size;
    digests.add(layer.digest().toString());
    diffID = layer.diffID().toString();
  }
  if (digests.size > 1) throw new Error(`${JSON.stringify(options)}: the output differs between runs`);
  return { seconds: median(times), size, digest: [...digests][0], diffID };
}

function cliRun(path, args) {
  const times = [];
  let size = 0;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    // Both hashes, as a layer needs them: diffID of the input, digest of the compressed bytes.
    const r = spawnSync('bash', ['-c', `sha256sum "$1" >/dev/null && zstd -q ${args} -c "$1" | tee >(wc -c >&2) | sha256sum >/dev/null`, 'bash', path], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`zstd ${args}: ${r.stderr}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
    size = Number(r.stderr.trim());
  }
  return { seconds: median(times), size };
}

const hasCli = spawnSync('zstd', ['--version']).status === 0;
const out = jsonWanted ? console.error : console.log;
const notes = hasCli ? [] : ['the zstd command is not installed: no `zstd -T1/-T0` baseline rows'];
for (const n of notes) out(`note: ${n}`);
const failures = [];
const rows = [];
for (const [name, sizeMB] of corpora) {
  const corpus = await ensureCorpus(name, sizeMB, () => {});
  const bytes = corpus.bytes;
  const results = [];
  const add = (label, r, extra = {}) => results.push({ label, ...extra, mbps: bytes / MB / r.seconds, pct: (100 * r.size) / bytes, size: r.size });
  const layer = async (compression, level, threads) => {
    const options = { compressionLevel: level, engine: 'native', ...(compression === 'zstd' ? { compression } : {}), ...(threads ? { threads } : {}) };
    let r;
    try {
      r = await layerRun(corpus.path, options);
    } catch (err) {
      if (isUnavailable(err)) skip(`fastlayer ${compression} on the native engine is unavailable: ${err.message}`);
      throw err;
    }
    if (r.diffID !== `sha256:${corpus.sha256}`) failures.push(`${name} ${compression} ${level}: diffID ${r.diffID} is not the corpus SHA-256`);
    return r;
  };
  if (hasCli) {
    for (const level of [1, 3, 9, 19]) {
      add(`zstd -${level} -T1 + sha256sum x2`, cliRun(corpus.path, `-${level} -T1`), { tool: 'zstd', level, threads: 1 });
      add(`zstd -${level} -T0 + sha256sum x2`, cliRun(corpus.path, `-${level} -T0`), { tool: 'zstd', level, threads: 0 });
    }
  }
  for (const [compression, levels] of [['zstd', [1, 3, 9, 19]], ['gzip', [1, 6]]]) {
    for (const level of levels) {
      const one = await layer(compression, level, 1);
      const many = await layer(compression, level, undefined);
      // The thread count must never change the bytes.
      if (one.digest !== many.digest) failures.push(`${name} ${compression} ${level}: 1 thread and ${defaultThreads} threads give different bytes`);
      add(`fastlayer ${compression} ${level}, 1 thread`, one, { tool: `fastlayer-${compression}`, level, threads: 1 });
      add(`fastlayer ${compression} ${level}, ${defaultThreads} threads`, many, { tool: `fastlayer-${compression}`, level, threads: defaultThreads });
    }
  }
  const base = results.find((r) => r.label.startsWith('zstd -3 -T1')) ?? results.find((r) => r.label.startsWith('fastlayer zstd 3, 1'));
  out(`\n${name}: ${(bytes / MB).toFixed(1)} MB (baseline: ${base.label}, ${base.mbps.toFixed(0)} MB/s)`);
  for (const r of results) {
    out(`  ${r.label.padEnd(34)} ${r.mbps.toFixed(1).padStart(7)} MB/s  x${(r.mbps / base.mbps).toFixed(2)}  size ${r.pct.toFixed(1)}%`);
    rows.push({ corpus: name, bytes, ...r, ratio: r.mbps / base.mbps });
  }
}
emit({ section: 'zstd', quick, runs, defaultThreads, hasCli, notes, rows, failures });
for (const f of failures) console.error(`FAILURE: ${f}`);
if (failures.length) process.exit(1);
