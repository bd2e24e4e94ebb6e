// Stream forms against the Layer and against the pipeline they replace, same corpus, same run:
//   Layer.fromFile                    the Layer reading the file itself (the reference for the forms)
//   createGzip in pipeline()          fs.createReadStream -> createGzip({ level }) -> sink
//   createGzip, 1 MiB reads           the same with createReadStream({ highWaterMark: 1 MiB })
//   LayerCompressionStream            Readable.toWeb(createReadStream) .pipeThrough() .pipeTo(sink)
//   zlib.createGzip + 2 hashes        createReadStream -> sha256 tap -> zlib.createGzip -> sha256 tap -> sink
//   createReadStream alone            createReadStream -> sink: the share of the createGzip row that is
//                                     the source's own (64 KiB reads), not the layer's
// Every measurement runs in its own process; rows are interleaved run by run, medians reported.
// Goals (issue 16): createGzip within 10% of Layer.fromFile, and >= 3x the zlib pipeline at level 1.
//   node bench/streams.js [--quick] [--size MB] [--runs N] [--levels 1,6] [--threads N] [--json]
// (--json: the report as one JSON line on stdout, for `npm run bench -- --sections streams`.)
// Exits non-zero on a failure (a digest that disagrees, a crash), never because something is slow.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WritableStream } from 'node:stream/web';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { describeCorpus, ensureCorpus } from './corpus.js';
import { distIndex, scratchResultsDir } from './paths.js';
import { emit } from './section-io.js';
import { fmt, fmtRate, median } from './stats.js';

const MB = 1e6;
const ROWS = {
  layer: 'Layer.fromFile',
  createGzip: 'createGzip in pipeline()',
  createGzip1M: 'createGzip, 1 MiB reads',
  web: 'LayerCompressionStream',
  zlib: 'zlib.createGzip + 2 hashes',
  read: 'createReadStream alone',
};
// Rows that make no layer: what the source costs by itself (no values to check).
const SOURCE_ONLY = new Set(['read']);

// ---- one measurement (child process) -------------------------------------------------------------

function discard(hash) {
  const state = { bytes: 0 };
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk, _enc, cb) {
      state.bytes += chunk.length;
      hash?.update(chunk);
      cb();
    },
  });
  return { sink, state };
}

function tap(hash) {
  return new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
}

async function measure({ row, file, level, threads }) {
  const lib = await import(pathToFileURL(distIndex).href);
  const options = { compressionLevel: level, ...(threads ? { threads } : {}) };
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let values;
  let bytes;
  if (row === 'layer') {
    const layer = lib.Layer.fromFile(file, options);
    const { sink, state } = discard();
    await pipeline(layer.compressed(), sink);
    values = await layer.done;
    bytes = state.bytes;
  } else if (row === 'createGzip' || row === 'createGzip1M') {
    const gz = lib.createGzip({ level, ...(threads ? { threads } : {}) });
    const { sink, state } = discard();
    const readOptions = row === 'createGzip1M' ? { highWaterMark: 1 << 20 } : {};
    await pipeline(createReadStream(file, readOptions), gz, sink);
    values = await gz.done;
    bytes = state.bytes;
  } else if (row === 'web') {
    const stream = new lib.LayerCompressionStream(options);
    let n = 0;
    await Readable.toWeb(createReadStream(file)).pipeThrough(stream).pipeTo(new WritableStream({ write: (c) => void (n += c.length) }));
    values = await stream.done;
    bytes = n;
  } else if (row === 'zlib') {
    const inHash = createHash('sha256');
    const outHash = createHash('sha256');
    const { sink, state } = discard(outHash);
    await pipeline(createReadStream(file), tap(inHash), zlib.createGzip({ level }), sink);
    values = { digest: outHash.digest('hex'), diffID: inHash.digest('hex'), size: state.bytes };
    bytes = state.bytes;
  } else if (row === 'read') {
    const { sink, state } = discard();
    await pipeline(createReadStream(file), sink);
    values = { digest: '', diffID: '', size: state.bytes };
    bytes = state.bytes;
  } else {
    throw new RangeError(`unknown row ${row}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const { user, system } = process.cpuUsage(cpu0);
  if (Number(values.size) !== bytes) throw new Error(`${row}: size ${values.size} but ${bytes} bytes came out`);
  return {
    seconds,
    cpuSeconds: (user + system) / 1e6,
    digest: String(values.digest).replace(/^sha256:/, ''),
    diffID: String(values.diffID).replace(/^sha256:/, ''),
    size: Number(values.size),
  };
}

// ---- the run (parent) ----------------------------------------------------------------------------

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      size: { type: 'string' },
      runs: { type: 'string' },
      levels: { type: 'string' },
      threads: { type: 'string' },
      child: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  return {
    child: values.child,
    sizeMB: Number(values.size ?? (values.quick ? 32 : 300)),
    runs: Number(values.runs ?? (values.quick ? 3 : 5)),
    levels: (values.levels ?? (values.quick ? '1' : '1,6')).split(',').map(Number),
    threads: values.threads === undefined ? undefined : Number(values.threads),
    quick: values.quick,
  };
}

function runChild(task) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(task)], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${task.row} level ${task.level}: exit ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function main() {
  const o = options();
  if (o.child) {
    process.stdout.write(JSON.stringify(await measure(JSON.parse(o.child))) + '\n');
    return;
  }
  const log = (m) => process.stderr.write(m + '\n');
  const corpus = await ensureCorpus('realistic', o.sizeMB, log);
  const lib = await import(pathToFileURL(distIndex).href);
  const probe = new lib.Layer(Buffer.alloc(1), o.threads ? { threads: o.threads } : {});
  log(`${describeCorpus(corpus)}; engine ${probe.engine.name}, ${probe.threads} thread(s); ${o.runs} run(s) per row, interleaved`);
  log(`machine: ${os.cpus()[0]?.model?.trim() ?? 'unknown'}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const failures = [];
  const results = [];
  for (const level of o.levels) {
    const times = Object.fromEntries(Object.keys(ROWS).map((row) => [row, []]));
    const cpu = Object.fromEntries(Object.keys(ROWS).map((row) => [row, []]));
    const seen = {};
    for (let run = 0; run < o.runs; run++) {
      for (const row of Object.keys(ROWS)) {
        const r = runChild({ row, file: corpus.path, level, threads: o.threads });
        times[row].push(r.seconds);
        cpu[row].push(r.cpuSeconds);
        seen[row] = r;
        if (!SOURCE_ONLY.has(row) && r.diffID !== corpus.sha256) failures.push(`${ROWS[row]} level ${level}: diffID ${r.diffID} is not the corpus sha256`);
      }
    }
    // Every fastlayer form gives the same bytes, so the same digest and size.
    for (const row of ['createGzip', 'createGzip1M', 'web']) {
      if (seen[row].digest !== seen.layer.digest || seen[row].size !== seen.layer.size) {
        failures.push(`${ROWS[row]} level ${level}: digest/size differ from Layer.fromFile`);
      }
    }
    const rate = (row) => corpus.bytes / MB / median(times[row]);
    // CPU seconds of the whole process (main thread, threadpool, helper threads): on a machine
    // shared with other jobs the wall-clock ratios mostly measure the contention, these much less.
    const cpuOf = (row) => median(cpu[row]);
    const row = (name) => ({ row: ROWS[name], MBps: rate(name), seconds: median(times[name]), cpuSeconds: median(cpu[name]), size: seen[name].size });
    const rows = Object.keys(ROWS).map(row);
    results.push({ level, rows, ratios: {
      createGzipVsLayer: rate('createGzip') / rate('layer'),
      createGzip1MVsLayer: rate('createGzip1M') / rate('layer'),
      webVsLayer: rate('web') / rate('layer'),
      createGzipVsZlib: rate('createGzip') / rate('zlib'),
      cpuLayerVsCreateGzip: cpuOf('layer') / cpuOf('createGzip'),
      cpuZlibVsCreateGzip: cpuOf('zlib') / cpuOf('createGzip'),
      // On a CPU-bound machine createGzip cannot beat Layer.fromFile's CPU plus the read stream's.
      cpuReadVsCreateGzip: cpuOf('read') / cpuOf('createGzip'),
    } });
    log(`\nlevel ${level}`);
    log(`  ${'row'.padEnd(30)} ${'MB/s'.padStart(7)} ${'s'.padStart(7)} ${'cpu s'.padStart(7)} ${'size MB'.padStart(8)}`);
    for (const r of rows) log(`  ${r.row.padEnd(30)} ${fmtRate(r.MBps).padStart(7)} ${fmt(r.seconds, 2).padStart(7)} ${fmt(r.cpuSeconds, 2).padStart(7)} ${fmt(r.size / MB, 1).padStart(8)}`);
    const x = results.at(-1).ratios;
    log(`  createGzip / Layer.fromFile: ${fmt(x.createGzipVsLayer, 2)} (goal >= 0.90); 1 MiB reads: ${fmt(x.createGzip1MVsLayer, 2)}; web: ${fmt(x.webVsLayer, 2)}`);
    log(`  createGzip / zlib + 2 hashes: ${fmt(x.createGzipVsZlib, 2)}x${level === 1 ? ' (goal >= 3x)' : ''}`);
    log(`  CPU time: createGzip needs ${fmt(1 / x.cpuLayerVsCreateGzip, 2)}x Layer.fromFile's, zlib + 2 hashes ${fmt(x.cpuZlibVsCreateGzip, 2)}x createGzip's`);
    log(`  the 64 KiB read stream alone takes ${fmt(x.cpuReadVsCreateGzip * 100, 0)}% of createGzip's CPU time (process start-up included in both)`);
  }
  mkdirSync(scratchResultsDir, { recursive: true });
  const out = join(scratchResultsDir, 'streams.json');
  const report = {
    section: 'streams',
    quick: o.quick,
    date: new Date().toISOString(),
    corpus: { name: corpus.name, bytes: corpus.bytes, sha256: corpus.sha256 },
    engine: probe.engine,
    threads: probe.threads,
    runs: o.runs,
    loadavg: os.loadavg(),
    results,
    failures,
  };
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  emit(report);
  log(`\nresults: ${out}`);
  for (const f of failures) log(`FAILURE: ${f}`);
  if (failures.length) process.exit(1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
