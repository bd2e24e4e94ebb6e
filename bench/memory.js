// Memory benchmark: peak RSS while producing a large layer (default 2 GB) from a generated stream
// of semi-compressible data (no file) with a consumer slower than the engine, so backpressure is
// what bounds memory. Each engine runs in a fresh child that measures Node's baseline RSS first.
// Run alone: node bench/memory.js [--quick] [--memory-size MB] [--engines native,js]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Prng, semiCompressiblePool } from './prng.js';
import { distIndex } from './paths.js';

const MB = 1e6;
const MiB = 1 << 20;
/** Target: peak RSS at most this far above the baseline ("a few tens of MB"). */
export const MEMORY_TARGET_MIB = 64;
/** The consumer takes compressed bytes at this rate: slower than the native engine produces them. */
const CONSUMER_BYTES_PER_SECOND = 100 * MB;
const CHUNK = 64 * 1024;
const CONTROL_MAX_MB = 512;
const POOL = 16 * MiB;

async function child({ engine, level, bytes }) {
  const { Layer } = await import(pathToFileURL(distIndex).href);
  const pool = semiCompressiblePool(POOL, 7);
  const rng = new Prng(99);
  const inHash = createHash('sha256');
  const outHash = createHash('sha256');
  globalThis.gc?.();
  globalThis.gc?.();
  const rss = () => process.memoryUsage.rss();
  const baseline = rss();
  let sampledPeak = baseline;
  const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, rss())), 10);

  // Fresh buffers for every chunk, as a real producer (a tar writer, a socket) would hand over.
  async function* generate() {
    for (let left = bytes; left > 0; ) {
      const n = Math.min(CHUNK, left);
      const at = rng.below(pool.length - n);
      const chunk = Buffer.allocUnsafe(n);
      pool.copy(chunk, 0, at, at + n);
      inHash.update(chunk);
      left -= n;
      yield chunk;
    }
  }

  let outBytes = 0;
  const start = process.hrtime.bigint();
  const elapsedMs = () => Number(process.hrtime.bigint() - start) / 1e6;
  const slowConsumer = new Writable({
    highWaterMark: CHUNK,
    write(chunk, _enc, cb) {
      outBytes += chunk.length;
      outHash.update(chunk);
      const wait = (outBytes / CONSUMER_BYTES_PER_SECOND) * 1000 - elapsedMs();
      if (wait > 1) setTimeout(cb, wait);
      else cb();
    },
  });
  let done;
  if (engine === 'control') {
    // The harness alone: the same generator straight into the same consumer, no layer. Its figure
    // is what the generator, the hashing and Node's streams and GC cost by themselves.
    await pipeline(generate(), slowConsumer);
    const digest = outHash.copy().digest('hex');
    done = { digest, diffID: digest, size: outBytes };
  } else {
    const layer = new Layer(generate(), { compressionLevel: level, engine });
    await pipeline(layer.compressed(), slowConsumer);
    done = await layer.done;
  }
  const seconds = elapsedMs() / 1000;
  clearInterval(sampler);
  sampledPeak = Math.max(sampledPeak, rss());
  const hex = (h) => String(h).replace(/^sha256:/, '');
  const problems = [];
  if (hex(done.diffID) !== inHash.digest('hex')) problems.push('diffID differs from the SHA-256 of the generated input');
  if (hex(done.digest) !== outHash.digest('hex')) problems.push('digest differs from the SHA-256 of the output');
  if (Number(done.size) !== outBytes) problems.push(`size ${done.size} differs from the ${outBytes} bytes produced`);
  return {
    engine,
    level,
    bytes,
    seconds,
    outputBytes: outBytes,
    baselineRSS: baseline,
    sampledPeakRSS: sampledPeak,
    // The kernel's lifetime peak: an upper bound (it also covers the start-up before the baseline).
    maxRSS: process.resourceUsage().maxRSS * 1024,
    problems,
  };
}

function runChild(task) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', JSON.stringify(task)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // A hang (lost backpressure wake-up, say) must end as a failure: a minute plus 1 MB/s.
    const timeoutMs = 60_000 + task.bytes / 1000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.on('close', (code) => {
      clearTimeout(timer);
      try {
        if (timedOut) throw new Error(`killed after ${timeoutMs / 1000} s without finishing`);
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (err) {
        resolve({ ...task, problems: [`memory child failed: ${err.message}`] });
      }
    });
  });
}

/** Summarises one child's figures; deltaMiB is the conservative (kernel peak) figure. */
function summarise(r) {
  if (r.baselineRSS === undefined) return { ...r, pass: false };
  const deltaMiB = (Math.max(r.maxRSS, r.sampledPeakRSS) - r.baselineRSS) / MiB;
  return {
    ...r,
    baselineMiB: r.baselineRSS / MiB,
    peakMiB: Math.max(r.maxRSS, r.sampledPeakRSS) / MiB,
    sampledDeltaMiB: (r.sampledPeakRSS - r.baselineRSS) / MiB,
    deltaMiB,
    mbps: r.bytes / r.seconds / MB,
    // The case measured is a consumer slower than the layer: when the layer produced below the
    // consumer's cap (a loaded machine), the consumer kept up and the figure is another case's.
    consumerBound: r.engine === 'control' || r.outputBytes / r.seconds >= 0.95 * CONSUMER_BYTES_PER_SECOND,
    targetMiB: MEMORY_TARGET_MIB,
    pass: r.engine === 'control' ? null : deltaMiB <= MEMORY_TARGET_MIB,
  };
}

export function formatMemory(s) {
  if (s.baselineMiB === undefined) return `  ${s.engine} level ${s.level}: FAILED (${s.problems.join('; ')})`;
  if (s.engine === 'control') {
    return `  harness alone (generator -> consumer, no layer): ${(s.bytes / MB).toFixed(0)} MB; RSS baseline ` +
      `${s.baselineMiB.toFixed(1)} MiB, peak ${s.peakMiB.toFixed(1)} MiB, +${s.deltaMiB.toFixed(1)} MiB`;
  }
  return (
    `  ${s.engine.padEnd(6)} level ${s.level}: ${(s.bytes / MB).toFixed(0)} MB in ${s.seconds.toFixed(1)} s` +
    ` (${s.mbps.toFixed(0)} MB/s, consumer capped at ${CONSUMER_BYTES_PER_SECOND / MB} MB/s of output);` +
    ` RSS baseline ${s.baselineMiB.toFixed(1)} MiB, peak ${s.peakMiB.toFixed(1)} MiB,` +
    ` +${s.deltaMiB.toFixed(1)} MiB (sampled +${s.sampledDeltaMiB.toFixed(1)}) -> ${s.pass ? 'PASS' : 'MISS'}` +
    ` (target <= +${MEMORY_TARGET_MIB} MiB)` +
    (s.consumerBound ? '' : `; the layer produced ${(s.outputBytes / s.seconds / MB).toFixed(0)} MB/s of output, below the consumer's cap: not the slow-consumer case (a loaded machine?)`) +
    (s.overControlMiB !== undefined ? `; ${s.overControlMiB >= 0 ? '+' : ''}${s.overControlMiB.toFixed(1)} MiB over the harness alone` : '') +
    (s.problems.length ? `\n    FAILED: ${s.problems.join('; ')}` : '')
  );
}

/**
 * Runs the benchmark for each engine, one child each, one after the other, after a control run of
 * the harness alone (shorter: its peak is reached within the first few hundred MB).
 */
export async function runMemoryBench({ sizeMB, engines, log = (m) => process.stderr.write(m + '\n') }) {
  const results = [];
  const controlMB = Math.min(sizeMB, CONTROL_MAX_MB);
  log(`memory: harness alone, ${controlMB} MB ...`);
  const control = summarise(await runChild({ engine: 'control', level: 0, bytes: Math.round(controlMB * MB) }));
  results.push(control);
  for (const engine of engines) {
    log(`memory: ${engine} engine, ${sizeMB} MB generated layer ...`);
    const r = summarise(await runChild({ engine, level: 1, bytes: Math.round(sizeMB * MB) }));
    if (r.deltaMiB !== undefined && control.deltaMiB !== undefined) r.overControlMiB = r.deltaMiB - control.deltaMiB;
    results.push(r);
  }
  return {
    consumerMBps: CONSUMER_BYTES_PER_SECOND / MB,
    chunkBytes: CHUNK,
    targetMiB: MEMORY_TARGET_MIB,
    results,
  };
}

if (process.argv[2] === '--child') {
  try {
    process.stdout.write(JSON.stringify(await child(JSON.parse(process.argv[3]))) + '\n');
  } catch (err) {
    process.stderr.write(`memory child: ${err.stack ?? err}\n`);
    process.exitCode = 1;
  }
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseOptions } = await import('./options.js');
  const options = parseOptions();
  const engines = options.engines.filter((e) => e === 'native' || e === 'js');
  const report = await runMemoryBench({ sizeMB: options.memorySize, engines });
  report.results.forEach((r) => console.log(formatMemory(r)));
  if (report.results.some((r) => r.problems.length)) process.exitCode = 1;
}
