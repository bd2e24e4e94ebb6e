// npm run bench -- --scaling [--size MB] [--levels 1,6] : where one layer's time goes, per thread
// count. For each level and threads 1, 2, 4, ... up to the machine's cores (at most 64) it runs the
// native addon's Pipeline over the realistic tar (read in 1 MiB readFile calls, as a file layer does)
// and prints, from the engine's own stats() (native/core/engine_stats.h): wall time, the CPU seconds of
// each stage (input hash, compress, output hash, wait) and each stage's busy share of the wall time,
// the distinct threads that compressed, and the process's CPU use. From the 1-thread run's stage
// costs it predicts the throughput on N cores: the caller's stages (both hashes) run one after the
// other on one thread, compression spreads over the rest, so
//   predicted(N) = bytes / max(hashes, (hashes + compress) / N).
// Peers on the same file: `pigz -L -p N` and `zstd -L -T N` (no hashing), and 'none' (read + one
// SHA-256: the bound of any layer). Writes nothing; a small machine shows the model, not the goal.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import os from 'node:os';
import { ensureCorpus } from './corpus.js';

const MB = 1e6;
const MiB = 1024 * 1024;

function arg(argv, name, fallback) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
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
  const corpus = await ensureCorpus('realistic', sizeMB);
  const bytes = corpus.bytes;
  const rate = (seconds) => (seconds ? (bytes / MB / seconds).toFixed(0) : '-');
  const none = await layer(addon, corpus.path, 1, 1, 1);
  console.log(`scaling: ${(bytes / MB).toFixed(1)} MB realistic tar, ${cores} cores (${os.cpus()[0]?.model ?? '?'})`);
  console.log(`'none' (read + SHA-256): ${none.wall.toFixed(3)} s, ${rate(none.wall)} MB/s`);
  const rows = [['engine', 'threads', 'MB/s', 'cores used', 'threads that compressed', 'input hash s (busy)', 'compress s (busy)', 'output hash s (busy)', 'wait s', 'predicted MB/s on N cores', 'peer MB/s']];
  const zstdLevels = levels.map((l) => Math.min(Math.max(l, 1), 19));
  for (const [name, mode, list] of [['gzip', 0, levels], ['zstd', 2, zstdLevels]]) {
    for (const level of list) {
      let base;
      for (const n of counts) {
        const r = await layer(addon, corpus.path, level, mode, n);
        const s = r.stats;
        if (n === 1) base = s;
        const hashes = base.inputHashSeconds + base.outputHashSeconds;
        const predicted = bytes / MB / Math.max(hashes, (hashes + base.compressSeconds) / n);
        const busy = (x) => `${x.toFixed(2)} (${((100 * x) / r.wall).toFixed(0)}%)`;
        const tool = mode === 0 ? 'pigz' : 'zstd';
        const peerArgs = mode === 0 ? [`-${level}`, '-p', String(n), '-c'] : [`-${level}`, `-T${n}`, '-c', '-q'];
        const peerSeconds = has(tool) ? peer(tool, peerArgs, corpus.path) : null;
        rows.push([`${name} ${level}`, String(n), rate(r.wall), (r.cpu / r.wall).toFixed(2), String(r.workers), busy(s.inputHashSeconds),
          busy(s.compressSeconds), busy(s.outputHashSeconds), s.waitSeconds.toFixed(2), predicted.toFixed(0),
          peerSeconds === null ? '-' : `${rate(peerSeconds)} (${tool} -${level} ${mode === 0 ? '-p' : '-T'}${n})`]);
      }
    }
  }
  rows.push(['none', '1', rate(none.wall), (none.cpu / none.wall).toFixed(2), '-', `${none.stats.inputHashSeconds.toFixed(2)}`, '-', '-', '-', '-', '-']);
  console.log(rows.map((r, i) => `| ${r.join(' | ')} |` + (i === 0 ? `\n|${r.map(() => '---').join('|')}|` : '')).join('\n'));
}
