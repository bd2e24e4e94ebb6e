// npm run bench -- --scaling [--size MB] [--levels 1,6] [--no-push] : where one layer's time goes, per
// thread count. For each level and threads 1, 2, 4, ... up to the machine's cores (at most 64) it runs
// (1) the native addon's Pipeline over the realistic tar (read in 1 MiB readFile calls, as a file layer
// does) and prints, from the engine's own stats() (native/core/engine_stats.h): wall time, the CPU
// seconds of each stage (input hash, compress, output hash, wait) and each stage's busy share of the
// wall time, the distinct threads that compressed, and the process's CPU use; and (2) the real path,
// Layer.fromFile piped to a sink, for its wall time and CPU use. From the 1-thread run's stage costs
// it predicts the throughput on N cores. With threads > 1 each hash runs on a thread of its own
// (native/core/hash_stage.h) and compression spreads over the N cores, which also carry the hashes:
//   predicted(N) = bytes / max(hash_in, hash_out, (hash_in + hash_out + compress) / N).
// Peers on the same file: `pigz -L -p N` and `zstd -L -T N` (no hashing), and 'none' (read + one
// SHA-256: the bound of any layer). Last, the push row: bench/push.js (a one-layer image pushed to a
// local docker-registry against `skopeo copy --dest-compress-level 1`), when both tools are present.
// eStargz (issue 23) has stages that do not spread over the cores: the main thread (tar splitting,
// the TOC, queueing the member calls) and two in-order hash stages, each one member call at a time
// (the input: diffID, chunk and file SHA-256; the blob), which run at once on different calls
// (EstargzStats.inputHashSeconds and blobHashSeconds, their CPU time; hashSeconds the busier). From
// a 1-thread run (the main thread's CPU time, process CPU) it predicts
//   estargz(N) = bytes / max(main, input_hash, blob_hash, cpu / N)
// and prints it beside gzip's prediction at the same level and N. The tar is read as Layer.fromFile
// reads it: fresh 1 MiB chunks the writer keeps without a copy.
// Writes nothing; a small machine shows the model, not the goal: the predictions are predictions.
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, openSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureCorpus } from './corpus.js';
import { distIndex } from './paths.js';

const MB = 1e6;
const MiB = 1024 * 1024;

function arg(argv, name, fallback) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

// The model above: MB/s on n cores from the 1-thread run's stage seconds (its engine stats()).
function predictedMBps(bytes, s, n) {
  return bytes / MB / Math.max(s.inputHashSeconds, s.outputHashSeconds, (s.inputHashSeconds + s.outputHashSeconds + s.compressSeconds) / n);
}

// The main thread's own CPU seconds so far (Linux: its schedstat), or undefined elsewhere. Not the
// event loop's busy time: on a small machine that also counts the time the main thread waits,
// runnable, for a core its own threadpool wake-ups gave away, which many cores would not take from it.
function mainThreadCpu() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return undefined;
  }
}

// eStargz of the tar from a 1 MiB-read stream, threads 1: wall, process CPU, the main thread's CPU
// seconds (its busy time by the event loop's utilization where they cannot be read) and the hash
// stages'. The second of two runs (the first warms up). The writer's internal entry (a Layer does not
// expose the stats): a ReadStream's chunks are new buffers, kept without a copy as a file layer's are.
async function estargzRun(path, level) {
  const { estargzLayerOf } = await import('../dist/estargz/writer.js');
  let r;
  for (let i = 0; i < 2; i++) {
    const elu = performance.eventLoopUtilization();
    const main = mainThreadCpu();
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    const l = estargzLayerOf(createReadStream(path, { highWaterMark: MiB }), { compressionLevel: level, threads: 1, engine: 'native' }, () => true);
    await pipeline(l.stream, new Writable({ write: (_chunk, _enc, done) => done() }));
    await l.done;
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu);
    const mainAfter = mainThreadCpu();
    const busy = performance.eventLoopUtilization(elu).active / 1000;
    r = { wall, cpu: (used.user + used.system) / 1e6, main: main === undefined || mainAfter === undefined ? busy : mainAfter - main, hash: l.stats.hashSeconds ?? NaN,
      input: l.stats.inputHashSeconds ?? NaN, blob: l.stats.blobHashSeconds ?? NaN };
  }
  return r;
}

async function layer(addon, path, level, mode, threads) {
  const p = new addon.Pipeline(level, mode, threads);
  const fd = openSync(path, 'r');
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  try {
    for (let position = 0; ; ) {
      const { bytesRead } = await p.readFile(fd, position, MiB);
      position += bytesRead;
      if (bytesRead < MiB) break;
    }
    await p.finish();
  } finally {
    closeSync(fd);
  }
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const s = p.stats();
  return { wall, cpu: (used.user + used.system) / 1e6, stats: s, workers: s.units.filter((n) => n > 0).length };
}

// The real path: Layer.fromFile(path).compressed() into a sink that drops the bytes.
async function fileLayer(Layer, path, level, compression, threads) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const layer = Layer.fromFile(path, { compressionLevel: level, compression, threads });
  await pipeline(layer.compressed(), new Writable({ write: (_chunk, _enc, done) => done() }));
  await layer.done;
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / 1e6 };
}

// bench/push.js in a child (it starts and stops its own registries); null when skipped or failed.
function pushRow(sizeMB) {
  const script = fileURLToPath(new URL('./push.js', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--size', String(sizeMB), '--runs', '1', '--json'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return null;
  const line = r.stdout.trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

function peer(command, args, path) {
  const start = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', `${command} ${args.join(' ')} < '${path}' > /dev/null`]);
  if (r.status !== 0) return null;
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

export async function runScaling(argv) {
  const sizeMB = Number(arg(argv, 'size', '128'));
  const levels = arg(argv, 'levels', '1,6').split(',').map(Number);
  const cores = Math.min(os.availableParallelism(), 64);
  const counts = [];
  for (let n = 1; n <= cores; n *= 2) counts.push(n);
  if (counts.at(-1) !== cores) counts.push(cores);
  const { loadNative } = await import('../dist/engine/native.js');
  const loaded = loadNative();
  if (!loaded.addon) throw new Error(`native addon did not load: ${loaded.error?.message}`);
  const addon = loaded.addon;
  const { Layer } = await import(pathToFileURL(distIndex).href);
  const corpus = await ensureCorpus('realistic', sizeMB);
  const bytes = corpus.bytes;
  const rate = (seconds) => (seconds ? (bytes / MB / seconds).toFixed(0) : '-');
  const none = await layer(addon, corpus.path, 1, 1, 1);
  console.log(`scaling: ${(bytes / MB).toFixed(1)} MB realistic tar, ${cores} cores (${os.cpus()[0]?.model ?? '?'})`);
  console.log(`'none' (read + SHA-256): ${none.wall.toFixed(3)} s, ${rate(none.wall)} MB/s`);
  const rows = [['engine', 'threads', 'MB/s', 'cores used', 'threads that compressed', 'input hash s (busy)', 'compress s (busy)', 'output hash s (busy)', 'wait s (hash wait)', 'predicted MB/s on N cores', 'Layer.fromFile MB/s (cores used)', 'peer MB/s']];
  const chart = [];
  const gzipBase = new Map();
  // gzip's Layer.fromFile 1-thread run per level: its process CPU, for the eStargz comparison.
  const gzipReal = new Map();
  const zstdLevels = levels.map((l) => Math.min(Math.max(l, 1), 19));
  for (const [name, mode, list] of [['gzip', 0, levels], ['zstd', 2, zstdLevels]]) {
    for (const level of list) {
      let base;
      for (const n of counts) {
        const r = await layer(addon, corpus.path, level, mode, n);
        const s = r.stats;
        if (n === 1) base = s;
        if (n === 1 && mode === 0) gzipBase.set(level, s);
        const predicted = predictedMBps(bytes, base, n);
        const real = await fileLayer(Layer, corpus.path, level, mode === 0 ? 'gzip' : 'zstd', n);
        if (n === 1 && mode === 0) gzipReal.set(level, real);
        const busy = (x) => `${x.toFixed(2)} (${((100 * x) / r.wall).toFixed(0)}%)`;
        const tool = mode === 0 ? 'pigz' : 'zstd';
        const peerArgs = mode === 0 ? [`-${level}`, '-p', String(n), '-c'] : [`-${level}`, `-T${n}`, '-c', '-q'];
        const peerSeconds = has(tool) ? peer(tool, peerArgs, corpus.path) : null;
        rows.push([`${name} ${level}`, String(n), rate(r.wall), (r.cpu / r.wall).toFixed(2), String(r.workers), busy(s.inputHashSeconds),
          busy(s.compressSeconds), busy(s.outputHashSeconds), `${s.waitSeconds.toFixed(2)} (${(s.hashWaitSeconds ?? 0).toFixed(2)})`, predicted.toFixed(0),
          `${rate(real.wall)} (${(real.cpu / real.wall).toFixed(2)})`,
          peerSeconds === null ? '-' : `${rate(peerSeconds)} (${tool} -${level} ${mode === 0 ? '-p' : '-T'}${n})`]);
        chart.push([`${name} ${level}, Layer.fromFile, ${n} thread${n > 1 ? 's' : ''}, measured`, bytes / MB / real.wall]);
      }
      // Past the cores measured here: the model from the 1-thread stage costs.
      for (const n of [2, 4, 8, 16, 32, 64].filter((c) => c > cores)) {
        chart.push([`${name} ${level}, ${n} cores, PREDICTED`, predictedMBps(bytes, base, n)]);
      }
    }
  }
  // eStargz beside gzip, one model for both from 1-thread runs of the real path (Layer.fromFile for
  // gzip): bytes / max(serial stages, process CPU / N). gzip's serial stages are its two hashes; its
  // process CPU counts reading and the main thread as eStargz's does (the table above divides only
  // the engine's stages, which flatters gzip beside eStargz).
  const estargzRows = [['level', 'eStargz MB/s, 1 thread', 'CPU s', 'main thread CPU s (share)', 'hash stages s: input, blob (busy)', ...[4, 16, 64].map((n) => `PREDICTED ${n} cores: eStargz / gzip MB/s`)]];
  for (const level of levels) {
    const e = await estargzRun(corpus.path, level);
    const g = gzipBase.get(level);
    const cells = [4, 16, 64].map((n) => {
      const ep = bytes / MB / Math.max(e.main, e.hash, e.cpu / n);
      const gr = gzipReal.get(level);
      const gp = g && gr ? bytes / MB / Math.max(g.inputHashSeconds, g.outputHashSeconds, gr.cpu / n) : NaN;
      chart.push([`estargz ${level}, ${n} cores, PREDICTED`, ep]);
      return `${ep.toFixed(0)} / ${gp.toFixed(0)} (x${(ep / gp).toFixed(2)})`;
    });
    const busy = (x) => `${x.toFixed(2)} (${((100 * x) / e.wall).toFixed(0)}%)`;
    estargzRows.push([String(level), rate(e.wall), e.cpu.toFixed(2), busy(e.main), `${busy(e.input)}, ${busy(e.blob)}`, ...cells]);
  }
  rows.push(['none', '1', rate(none.wall), (none.cpu / none.wall).toFixed(2), '-', `${none.stats.inputHashSeconds.toFixed(2)}`, '-', '-', '-', '-', '-', '-']);
  const table = (t) => t.map((r, i) => `| ${r.join(' | ')} |` + (i === 0 ? `\n|${r.map(() => '---').join('|')}|` : '')).join('\n');
  console.log(table(rows));
  console.log(`\neStargz (threads 1; predicted(N) = bytes / max(main thread, input hash, blob hash, CPU / N); gzip's = bytes / max(input hash, output hash, Layer.fromFile CPU / N)):\n${table(estargzRows)}`);
  chart.push(["'none' (read + one SHA-256), measured", bytes / MB / none.wall]);
  console.log('\nMB/s (measured on this machine; PREDICTED rows are the model above, not measurements):');
  console.log(barChart(chart));
  if (!argv.includes('--no-push')) {
    const push = pushRow(Math.min(sizeMB, 200));
    console.log(push ? `push: ${JSON.stringify(push)}` : 'push: skipped (docker-registry or skopeo missing, or the push bench failed)');
  }
}

// A text bar chart, one bar per row, scaled to the largest value.
export function barChart(rows, width = 40) {
  const top = Math.max(...rows.map(([, v]) => v), 1);
  const label = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, v]) => `${l.padEnd(label)} | ${'#'.repeat(Math.max(1, Math.round((v / top) * width))).padEnd(width)} ${v.toFixed(0)}`).join('\n');
}
