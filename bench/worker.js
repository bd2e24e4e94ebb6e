// One measurement in its own process, so that its peak RSS is its own. Called by run.js as
//   node bench/worker.js '<json task>'
// and prints one JSON line with the result. Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { distIndex } from './paths.js';

const hex = (h) => String(h).replace(/^sha256:/, '');

/** CPU time of this process (all its threads, so also the threadpool) since `start`. */
function cpuSince(start) {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

/**
 * The consumer at the end of every Node pipeline: counts the output, and hashes it when that is part
 * of the measured work (the naive pipeline) or in verify mode. In verify mode it also inflates the
 * output and hashes the result, which must equal the input's SHA-256.
 */
function outputSink({ verify, gzip, hash: hashing }) {
  const hash = createHash('sha256');
  const state = { bytes: 0, digest: '', roundTrip: undefined };
  let gunzip;
  let roundTripDone;
  if (verify && gzip) {
    const inner = createHash('sha256');
    gunzip = zlib.createGunzip();
    roundTripDone = new Promise((resolve, reject) => {
      gunzip.on('data', (c) => inner.update(c));
      gunzip.on('error', reject);
      gunzip.on('end', () => resolve(inner.digest('hex')));
    });
  }
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk, _enc, cb) {
      state.bytes += chunk.length;
      if (hashing || verify) hash.update(chunk);
      if (gunzip && !gunzip.write(chunk)) gunzip.once('drain', () => cb());
      else cb();
    },
    final(cb) {
      if (hashing || verify) state.digest = hash.digest('hex');
      if (!gunzip) return cb();
      gunzip.end();
      roundTripDone.then((h) => ((state.roundTrip = h), cb()), cb);
    },
  });
  return { sink, state };
}

async function runFastlayer(task) {
  const { Layer } = await import(pathToFileURL(distIndex).href);
  const none = task.level === 'none';
  const { sink, state } = outputSink({ verify: task.verify, gzip: !none, hash: false });
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const file = createReadStream(task.file, { highWaterMark: task.readSize });
  // 'stream': the layer sees only chunks, as from any non-file source.
  const source = task.engine === 'stream' ? (async function* () { yield* file; })() : file;
  // 'stream' and 'native1' are the native engine fed or configured differently.
  const engineWanted = task.engine === 'stream' || task.engine === 'native1' ? 'native' : task.engine;
  const layer = new Layer(source, {
    compression: none ? 'none' : 'gzip',
    ...(none ? {} : { compressionLevel: task.level }),
    ...(task.threads ? { threads: task.threads } : {}),
    engine: engineWanted,
  });
  await pipeline(layer.compressed(), sink);
  const done = await layer.done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuSeconds = cpuSince(cpu0);
  const engine = layer.engine;
  const engineName = typeof engine === 'string' ? engine : engine?.name;
  if (engineName !== undefined && engineName !== engineWanted) {
    throw new Error(`asked for engine '${task.engine}' but the layer used '${engineName}'`);
  }
  return {
    seconds,
    cpuSeconds,
    size: Number(done.size),
    digest: hex(done.digest),
    diffID: hex(done.diffID),
    output: { bytes: state.bytes, digest: state.digest, roundTrip: state.roundTrip },
    engine: typeof engine === 'object' ? engine : { name: engineName },
    threads: layer.threads,
  };
}

/** What image builders do today: read stream -> SHA-256 tap -> gzip -> SHA-256 tap and count. */
async function runNaive(task) {
  const none = task.level === 'none';
  const inHash = createHash('sha256');
  const { sink, state } = outputSink({ verify: task.verify, gzip: !none, hash: true });
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const source = createReadStream(task.file, { highWaterMark: task.readSize });
  if (none) {
    await pipeline(source, sink);
  } else {
    const tap = new Transform({
      transform(chunk, _enc, cb) {
        inHash.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(source, tap, zlib.createGzip({ level: task.level }), sink);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuSeconds = cpuSince(cpu0);
  const diffID = none ? state.digest : inHash.digest('hex');
  return {
    seconds,
    cpuSeconds,
    size: state.bytes,
    digest: state.digest,
    diffID,
    output: { bytes: state.bytes, digest: state.digest, roundTrip: state.roundTrip },
  };
}

const TIME = '/usr/bin/time';

/**
 * Runs a command under /usr/bin/time when it exists, for its peak RSS and CPU time; resolves with
 * { rss, cpu } (null when /usr/bin/time is missing).
 */
function runTool(command, args, onStdout) {
  const statsFile = join(tmpdir(), `fastlayer-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const timed = existsSync(TIME);
  const child = timed
    ? spawn(TIME, ['-f', '%M %U %S', '-o', statsFile, command, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', onStdout);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      let stats = { rss: null, cpu: null };
      if (timed && existsSync(statsFile)) {
        const [rss, user, sys] = readFileSync(statsFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        stats = { rss, cpu: user + sys };
        rmSync(statsFile, { force: true });
      }
      if (code !== 0) reject(new Error(`${command} exited with ${code}`));
      else resolve(stats);
    });
  });
}

/** pigz on all cores plus sha256sum: two passes over the input, as a shell script would do it. */
async function runPigz(task) {
  const start = process.hrtime.bigint();
  let sumOut = '';
  const pass1 = await runTool('sha256sum', [task.file], (c) => (sumOut += c));
  const outHash = createHash('sha256');
  let size = 0;
  // This process hashes pigz's output, standing in for `| sha256sum`: its CPU time counts too.
  const cpu0 = process.cpuUsage();
  const pass2 = await runTool('pigz', ['-c', '-n', `-${task.level}`, task.file], (c) => {
    size += c.length;
    outHash.update(c);
  });
  const hashCpu = cpuSince(cpu0);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    seconds,
    cpuSeconds: pass1.cpu === null || pass2.cpu === null ? null : pass1.cpu + pass2.cpu + hashCpu,
    size,
    digest: outHash.digest('hex'),
    diffID: sumOut.split(/\s+/)[0],
    toolMaxRSSKiB: pass1.rss === null || pass2.rss === null ? null : Math.max(pass1.rss, pass2.rss),
  };
}

/** Which fastlayer engines work here, and what they are made of. */
async function probe() {
  if (!existsSync(distIndex)) return { error: `${distIndex} is missing: run npm run build:ts` };
  let lib;
  try {
    lib = await import(pathToFileURL(distIndex).href);
  } catch (err) {
    return { error: `cannot import dist/index.js: ${err.message}` };
  }
  if (typeof lib.Layer !== 'function') return { error: 'dist/index.js does not export Layer' };
  const engines = {};
  for (const name of ['native', 'js']) {
    try {
      const layer = new lib.Layer(Buffer.from('probe'), { engine: name });
      const chunks = [];
      for await (const c of layer.compressed()) chunks.push(c);
      await layer.done;
      engines[name] = { ok: true, engine: layer.engine ?? { name } };
    } catch (err) {
      engines[name] = { ok: false, reason: `${err.code ? err.code + ': ' : ''}${err.message}` };
    }
  }
  // The thread count a Layer takes by default here, for the native rows and the C baseline's.
  return { engines, threads: new lib.Layer(Buffer.alloc(0)).threads ?? 1 };
}

const task = JSON.parse(process.argv[2] ?? '{}');
try {
  let result;
  if (task.kind === 'probe') result = await probe();
  else {
    const bytesIn = statSync(task.file).size;
    if (task.kind === 'fastlayer') result = await runFastlayer(task);
    else if (task.kind === 'naive') result = await runNaive(task);
    else if (task.kind === 'pigz') result = await runPigz(task);
    else throw new RangeError(`unknown task kind '${task.kind}'`);
    result.bytesIn = bytesIn;
  }
  result.maxRSSKiB = result.toolMaxRSSKiB !== undefined ? result.toolMaxRSSKiB : process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (err) {
  process.stderr.write(`worker ${task.kind}: ${err.stack ?? err}\n`);
  process.exitCode = 1;
}
