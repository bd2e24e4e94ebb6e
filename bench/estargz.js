// eStargz bench (standalone): fastlayer's eStargz writer against fastlayer gzip at the same level and
// threads, on the realistic corpus (a layer-like tar of many small and some large files). Throughput is
// input MB per second of wall time; the goal (issue 23) is eStargz >= 80% of gzip at the same threads.
// Both read the same tar file through Layer.fromFile, as `fastlayer layer` and directory layers do (their
// chunks are kept without a copy: src/core/fresh-chunks.ts).
// Run: node bench/estargz.js [--quick] [--json]   (needs `npm run build`)
// Fails (exit 1) when the thread count changes the eStargz bytes.
import { availableParallelism } from 'node:os';
import { ensureCorpus } from './corpus.js';
import { emit, isUnavailable, jsonWanted, skip } from './section-io.js';

const quick = process.argv.includes('--quick');
const MB = 1e6;
const { Layer } = await import('../dist/index.js');
const sizeMB = quick ? 32 : 200;
const runs = quick ? 1 : 3;
const defaultThreads = Math.min(availableParallelism(), 4);
const out = jsonWanted ? console.error : console.log;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(fn) {
  const times = [];
  let r;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    r = await fn();
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  return { seconds: median(times), ...r };
}

async function gzip(path, level, threads) {
  const layer = Layer.fromFile(path, { compressionLevel: level, threads, engine: 'native' });
  for await (const _ of layer.compressed()) void _;
  const v = await layer.done;
  return { size: v.size, digest: v.digest.toString() };
}

async function estargz(path, level, threads) {
  const layer = Layer.fromFile(path, { compression: 'estargz', compressionLevel: level, threads, engine: 'native' });
  for await (const _ of layer.compressed()) void _;
  const v = await layer.done;
  return { size: v.size, digest: v.digest.toString(), members: v.estargz.members };
}

const corpus = await ensureCorpus('realistic', sizeMB, () => {});
const rows = [];
const failures = [];
out(`realistic: ${(corpus.bytes / MB).toFixed(1)} MB, ${runs} run(s), median`);
for (const level of [1, 6]) {
  const digests = new Set();
  for (const threads of [1, defaultThreads]) {
    let g;
    let e;
    try {
      // Interleaved, so both see the same machine load.
      g = await timed(() => gzip(corpus.path, level, threads));
      e = await timed(() => estargz(corpus.path, level, threads));
    } catch (err) {
      if (isUnavailable(err)) skip(`the native engine is unavailable: ${err.message}`);
      throw err;
    }
    digests.add(e.digest);
    const gm = corpus.bytes / MB / g.seconds;
    const em = corpus.bytes / MB / e.seconds;
    const row = { level, threads, gzipMBps: gm, estargzMBps: em, ratio: em / gm, gzipSize: g.size, estargzSize: e.size, members: e.members };
    rows.push(row);
    out(`  level ${level}, ${threads} thread(s): gzip ${gm.toFixed(1)} MB/s, eStargz ${em.toFixed(1)} MB/s (x${row.ratio.toFixed(2)}; ${e.members} members), size ${(100 * e.size / g.size).toFixed(1)}% of gzip's`);
  }
  if (digests.size > 1) failures.push(`level ${level}: the thread count changed the eStargz bytes`);
}
emit({ section: 'estargz', quick, runs, defaultThreads, bytes: corpus.bytes, rows, failures });
for (const f of failures) console.error(`FAILURE: ${f}`);
if (failures.length) process.exit(1);
