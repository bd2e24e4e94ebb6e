// zstd bench (standalone): fastlayer zstd levels 1, 3, 9, 19 (native, 1 thread and the default
// threads) against `zstd -L -T1` / `-T0` plus sha256sum for both hashes, and against fastlayer gzip
// levels 1 and 6, on the benchmark corpora. Throughput is input MB per second of wall time, reported
// as a ratio to `zstd -3 -T1` + both hashes measured in the same run; sizes as % of the input.
// Run: node bench/zstd.js [--quick]   (needs `npm run build`; the zstd command for the baselines)
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { ensureCorpus } from './corpus.js';

const quick = process.argv.includes('--quick');
const MB = 1e6;
const { Layer } = await import('../dist/index.js');
const corpora = quick ? [['realistic', 40], ['text', 16], ['random', 16]] : [['realistic', 200], ['text', 64], ['random', 64]];
const runs = quick ? 1 : 3;
const defaultThreads = Math.min(availableParallelism(), 4);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function layerRun(path, options) {
  const times = [];
  let size = 0;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    const layer = Layer.fromFile(path, options);
    for await (const _ of layer.compressed()) void _;
    const values = await layer.done;
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
    size = values.size;
  }
  return { seconds: median(times), size };
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
const rows = [];
for (const [name, sizeMB] of corpora) {
  const corpus = await ensureCorpus(name, sizeMB, () => {});
  const bytes = corpus.bytes;
  const results = [];
  const add = (label, r) => results.push({ label, mbps: bytes / MB / r.seconds, pct: (100 * r.size) / bytes });
  if (hasCli) {
    for (const level of [1, 3, 9, 19]) {
      add(`zstd -${level} -T1 + sha256sum x2`, cliRun(corpus.path, `-${level} -T1`));
      add(`zstd -${level} -T0 + sha256sum x2`, cliRun(corpus.path, `-${level} -T0`));
    }
  }
  for (const level of [1, 3, 9, 19]) {
    add(`fastlayer zstd ${level}, 1 thread`, await layerRun(corpus.path, { compression: 'zstd', compressionLevel: level, threads: 1, engine: 'native' }));
    add(`fastlayer zstd ${level}, ${defaultThreads} threads`, await layerRun(corpus.path, { compression: 'zstd', compressionLevel: level, engine: 'native' }));
  }
  for (const level of [1, 6]) {
    add(`fastlayer gzip ${level}, 1 thread`, await layerRun(corpus.path, { compressionLevel: level, threads: 1, engine: 'native' }));
    add(`fastlayer gzip ${level}, ${defaultThreads} threads`, await layerRun(corpus.path, { compressionLevel: level, engine: 'native' }));
  }
  const base = results.find((r) => r.label.startsWith('zstd -3 -T1')) ?? results.find((r) => r.label.startsWith('fastlayer zstd 3, 1'));
  console.log(`\n${name}: ${(bytes / MB).toFixed(1)} MB (baseline: ${base.label}, ${base.mbps.toFixed(0)} MB/s)`);
  for (const r of results) {
    console.log(`  ${r.label.padEnd(34)} ${r.mbps.toFixed(1).padStart(7)} MB/s  x${(r.mbps / base.mbps).toFixed(2)}  size ${r.pct.toFixed(1)}%`);
    rows.push({ corpus: name, ...r, ratio: r.mbps / base.mbps });
  }
}
if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
