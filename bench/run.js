// npm run bench: interleaved throughput measurements on each corpus, a table, JSON, an SVG chart,
// the memory benchmark and the targets, then the sections of bench/sections.js (directory layers, zstd,
// stream forms, push, image archive; --sections picks). Every measurement runs in its own child process.
// Exits non-zero on real failures (a crash, a digest that does not check out, a missing engine),
// never because something is slow.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { buildCBaseline } from './c-build.js';
import { runJsonChild } from './child.js';
import { describeCorpus, ensureCorpus } from './corpus.js';
import { ENGINE_LABELS, levelLabel } from './labels.js';
import { formatMemory, runMemoryBench } from './memory.js';
import { parseOptions } from './options.js';
import { benchDir, committedResultsDir, repoRoot, scratchResultsDir } from './paths.js';
import { fmt, fmtRate, median } from './stats.js';
import { renderSvg } from './svg.js';
import { updatePerformanceDocs } from './readme.js';
import { runSection, SECTIONS, sectionTargets } from './sections.js';

const MB = 1e6;
const log = (m) => process.stderr.write(m + '\n');
// --scaling: its own report (bench/scaling.js), nothing else runs.
if (process.argv.includes('--scaling')) {
  const { runScaling } = await import('./scaling.js');
  await runScaling(process.argv.slice(2));
  process.exit(0);
}
const options = parseOptions();
// Without the 'layers' section, none of the pipelines, corpora or the memory test run.
const layersOn = options.sections.includes('layers');
if (!layersOn) {
  options.engines = [];
  options.corpora = [];
  options.memory = false;
}
const failures = [];
const fail = (message) => {
  failures.push(message);
  log(`FAILURE: ${message}`);
};

/** Runs a command that prints one JSON line; resolves { result } or { error } (bench/child.js). */
const runJson = (command, args, timeoutMs = 600_000) => runJsonChild(command, args, timeoutMs);

const worker = join(benchDir, 'worker.js');
const runWorker = (task, timeoutMs) => runJson(process.execPath, [worker, JSON.stringify(task)], timeoutMs);
/** Generous: a minute plus 0.5 MB/s, far below any real speed even on a crowded machine. */
const timeoutFor = (corpus) => 60_000 + corpus.bytes / 500;

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGB: Math.round(os.totalmem() / 1e9),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

// ---- what is available ---------------------------------------------------------------------------
const wanted = new Set(options.engines);
// What a Layer uses by default here (FASTLAYER_THREADS, else the CPUs up to 4): the native rows.
let nativeThreads = 1;
const available = {};
const engineInfo = {};
const unavailable = (engine, reason) => {
  const message = `${ENGINE_LABELS[engine]} unavailable: ${reason}`;
  if (options.allowMissing) log(`skipping: ${message}`);
  else fail(message + ' (pass --allow-missing to run without it)');
};

if (layersOn && (wanted.has('native') || wanted.has('js') || options.memory)) {
  const { result, error } = await runWorker({ kind: 'probe' });
  const probe = result ?? { error };
  nativeThreads = probe.threads ?? 1;
  for (const name of ['native', 'js']) {
    const e = probe.engines?.[name];
    available[name] = Boolean(e?.ok);
    if (e?.ok) engineInfo[name] = e.engine;
    if (wanted.has(name) && !e?.ok) unavailable(name, probe.error ?? e?.reason ?? 'unknown');
  }
}
// The addon measured must be the one the current sources make, or the figures describe other code.
let nativeFingerprint = null;
if (available.native && engineInfo.native?.details?.fingerprint) {
  const findLibs = join(repoRoot, 'scripts', 'find-libs.cjs');
  const r = spawnSync(process.execPath, [findLibs, 'fingerprint'], { encoding: 'utf8' });
  const sources = r.status === 0 ? r.stdout.trim() : null;
  const measured = engineInfo.native.details.fingerprint;
  nativeFingerprint = { measured, sources, stale: sources !== null && sources !== measured };
  if (nativeFingerprint.stale) {
    const message = `the native addon (fingerprint ${measured}) was not built from the current native sources ` +
      `(${sources}): run npm run build:native`;
    if (options.official) fail(message);
    else log(`warning: ${message}`);
  }
}
let cBaseline;
if (wanted.has('c')) {
  cBaseline = buildCBaseline(log);
  available.c = Boolean(cBaseline.binary);
  // A machine without g++ or the ISA-L/zlib headers (only Node and npm) measures everything else.
  if (cBaseline.skipped) log(`note: ${cBaseline.skipped}; its rows are left out`);
  else if (!available.c) unavailable('c', cBaseline.error);
}
available.naive = true;
available.stream = Boolean(available.native);
available.native1 = Boolean(available.native) && nativeThreads > 1;
available.cthreads = Boolean(available.c) && nativeThreads > 1;
available.pigz = wanted.has('pigz') && spawnSync('pigz', ['--version'], { stdio: 'ignore' }).status === 0;
if (wanted.has('pigz') && !available.pigz) log('pigz is not installed: skipping it (optional)');

// ---- corpora and the list of measurements ---------------------------------------------------------
const corpora = [];
for (const name of options.corpora) {
  const c = await ensureCorpus(name, options.sizes[name], log);
  log(describeCorpus(c));
  corpora.push(c);
}

function configsFor() {
  const configs = [];
  for (const level of options.levels) {
    const gzip = level !== 'none';
    for (const engine of ['c', 'cthreads', 'native', 'native1', 'stream', 'js', 'naive', 'pigz']) {
      if (!wanted.has(engine) || !available[engine]) continue;
      if (['js', 'stream', 'native1', 'cthreads'].includes(engine) && level !== 1 && level !== 6) continue;
      if (engine === 'pigz' && !gzip) continue;
      configs.push({ engine, level });
    }
  }
  return configs;
}
const configs = configsFor();

function measure(corpus, { engine, level }, verify) {
  if (engine === 'c' || engine === 'cthreads') {
    const args = [corpus.path, String(level === 'none' ? 0 : level), level === 'none' ? 'none' : 'gzip'];
    if (engine === 'cthreads') args.push(String(nativeThreads));
    return runJson(cBaseline.binary, args, timeoutFor(corpus));
  }
  const kind = engine === 'naive' || engine === 'pigz' ? engine : 'fastlayer';
  const threads = engine === 'native1' ? 1 : undefined;
  return runWorker({ kind, engine, level, file: corpus.path, readSize: options.readSize, verify, threads }, timeoutFor(corpus));
}

/** Returns the problems with one result; an empty list means it checks out. */
function check(corpus, { engine, level }, r) {
  const problems = [];
  if (r.bytesIn !== corpus.bytes) problems.push(`read ${r.bytesIn} bytes, the corpus has ${corpus.bytes}`);
  if (r.diffID !== corpus.sha256) problems.push(`diffID ${r.diffID} is not the corpus SHA-256 ${corpus.sha256}`);
  if (level === 'none' && (r.digest !== r.diffID || r.size !== corpus.bytes)) {
    problems.push("compression 'none' must give digest = diffID and size = input length");
  }
  if (r.output) {
    if (r.output.bytes !== r.size) problems.push(`reported size ${r.size}, consumer received ${r.output.bytes} bytes`);
    if (r.output.digest && r.output.digest !== r.digest) problems.push(`reported digest ${r.digest}, SHA-256 of the output is ${r.output.digest}`);
    if (r.output.roundTrip !== undefined && r.output.roundTrip !== corpus.sha256) {
      problems.push('gunzip of the output does not give the input back');
    }
  }
  if (['native', 'native1', 'stream'].includes(engine) && r.engine?.name && r.engine.name !== 'native') problems.push(`ran on engine ${r.engine.name}`);
  return problems;
}

// ---- the measurements: interleaved, A B C ... A B C ... -------------------------------------------
const records = new Map(); // `${corpus}|${engine}|${level}` -> { runs, digests, failed }
const key = (c, cfg) => `${c.name}|${cfg.engine}|${cfg.level}`;
// A first, untimed pass checks fastlayer's output completely (SHA-256 of the bytes, gunzip round
// trip). The naive pipeline and pigz are references, and the C baseline's bytes are compared with
// the addon's; every timed run still checks diffID, size and the 'none' invariants.
const passes = [
  { verify: true, timed: false, engines: ['native', 'native1', 'stream', 'js'] },
  ...Array.from({ length: options.runs }, () => ({ verify: false, timed: true, engines: null })),
];
const started = Date.now();
for (const corpus of corpora) {
  for (const cfg of configs) records.set(key(corpus, cfg), { runs: [], digests: new Set(), failed: false });
  for (const [p, pass] of passes.entries()) {
    for (const cfg of configs) {
      const rec = records.get(key(corpus, cfg));
      if (rec.failed || (pass.engines && !pass.engines.includes(cfg.engine))) continue;
      const label = `${corpus.name} ${ENGINE_LABELS[cfg.engine]} level ${levelLabel(cfg.level)}`;
      const { result, error } = await measure(corpus, cfg, pass.verify);
      if (error) {
        rec.failed = true;
        fail(`${label}: ${error}`);
        continue;
      }
      const problems = check(corpus, cfg, result);
      if (problems.length) {
        rec.failed = true;
        fail(`${label}: ${problems.join('; ')}`);
        continue;
      }
      rec.digests.add(result.digest);
      rec.size = result.size;
      rec.engine ??= result.engine;
      if (pass.timed) {
        const mbps = result.bytesIn / result.seconds / MB;
        rec.runs.push({ round: p, seconds: result.seconds, mbps, cpuSeconds: result.cpuSeconds ?? null, maxRSSKiB: result.maxRSSKiB });
      }
      log(`${pass.timed ? `run ${p}/${options.runs}` : 'check'}  ${label}: ` +
        `${fmtRate(result.bytesIn / result.seconds / MB)} MB/s, ${fmt((result.size / result.bytesIn) * 100)} %`);
    }
  }
}

// ---- cross-checks: same bytes wherever they must be the same --------------------------------------
for (const [k, rec] of records) {
  if (rec.digests.size > 1) fail(`${k}: the output differs between runs (${[...rec.digests].join(', ')})`);
}
for (const corpus of corpora) {
  for (const level of options.levels) {
    const native = records.get(`${corpus.name}|native|${level}`);
    const c = records.get(`${corpus.name}|c|${level}`);
    if (native?.digests.size === 1 && c?.digests.size === 1 && [...native.digests][0] !== [...c.digests][0]) {
      fail(`${corpus.name} level ${level}: the addon and the C baseline (same core) give different bytes`);
    }
    // The thread count must never change the bytes.
    for (const [a, b] of [['native1', 'native'], ['cthreads', 'c']]) {
      const x = records.get(`${corpus.name}|${a}|${level}`);
      const y = records.get(`${corpus.name}|${b}|${level}`);
      if (x?.digests.size === 1 && y?.digests.size === 1 && [...x.digests][0] !== [...y.digests][0]) {
        fail(`${corpus.name} level ${level}: ${ENGINE_LABELS[a]} and ${ENGINE_LABELS[b]} give different bytes`);
      }
    }
  }
}

// ---- summary -------------------------------------------------------------------------------------
const results = [];
for (const corpus of corpora) {
  for (const cfg of configs) {
    const rec = records.get(key(corpus, cfg));
    if (rec.runs.length === 0) continue;
    const rates = rec.runs.map((r) => r.mbps);
    results.push({
      corpus: corpus.name,
      engine: cfg.engine,
      level: cfg.level,
      label: ENGINE_LABELS[cfg.engine],
      mbps: { median: median(rates), min: Math.min(...rates), max: Math.max(...rates) },
      // Input MB per CPU-second over all threads: efficiency, much less sensitive to a busy machine.
      mbPerCpuSecond: rec.runs.every((r) => r.cpuSeconds) ? median(rec.runs.map((r) => corpus.bytes / r.cpuSeconds / MB)) : null,
      runs: rec.runs,
      size: rec.size,
      sizePercent: (rec.size / corpus.bytes) * 100,
      peakRSSMiB: Math.max(...rec.runs.map((r) => r.maxRSSKiB ?? 0)) / 1024 || null,
      digest: [...rec.digests][0],
    });
  }
}
const find = (corpus, engine, level) => results.find((r) => r.corpus === corpus && r.engine === engine && r.level === level);
// a's speed over b's: the median of the ratios of the runs of one round (each round runs every
// pipeline once, back to back), so a drift in the machine's speed between rounds cancels out; the
// ratio of the two medians where no round has both.
function ratio(a, b) {
  if (!b) return null;
  const rounds = new Map(b.runs.map((r) => [r.round, r.mbps]));
  const paired = a.runs.filter((r) => rounds.has(r.round)).map((r) => r.mbps / rounds.get(r.round));
  return paired.length > 0 ? median(paired) : a.mbps.median / b.mbps.median;
}
for (const r of results) {
  r.vsNaive = ratio(r, find(r.corpus, 'naive', r.level));
  r.vsC = ratio(r, find(r.corpus, 'c', r.level));
  r.vsCThreads = ratio(r, find(r.corpus, 'cthreads', r.level));
}

function target(name, value, goal) {
  const status = value === null || value === undefined ? 'n/a' : value >= goal ? 'PASS' : 'MISS';
  return { name, goal, value: value ?? null, status };
}
const realisticL1 = find('realistic', 'native', 1);
const realisticL1One = find('realistic', 'native1', 1);
const targets = [
  target('realistic tar, level 1: fastlayer native vs naive Node pipeline (x)', realisticL1?.vsNaive, 3.5),
  target(`realistic tar, level 1: fastlayer native (${nativeThreads} threads) vs C baseline (1 thread) (fraction)`, realisticL1?.vsC, 0.9),
  // Not goals of their own: what the figure above is made of.
  target('realistic tar, level 1: fastlayer native on 1 thread vs C baseline (fraction)', realisticL1One?.vsC, 0.9),
  target(`realistic tar, level 1: fastlayer native vs C baseline on the same ${nativeThreads} threads (fraction)`, realisticL1?.vsCThreads, 0.9),
];

function printTable() {
  const head = ['pipeline', 'level', 'MB/s median', '[min - max]', 'MB/CPU-s', 'size %', 'peak RSS', 'x naive', 'of C'];
  for (const corpus of corpora) {
    const rows = results.filter((r) => r.corpus === corpus.name).map((r) => [
      r.label, levelLabel(r.level), fmtRate(r.mbps.median), `[${fmtRate(r.mbps.min)} - ${fmtRate(r.mbps.max)}]`,
      fmtRate(r.mbPerCpuSecond),
      fmt(r.sizePercent), r.peakRSSMiB ? `${fmt(r.peakRSSMiB, 0)} MiB` : '-',
      r.vsNaive ? `${fmt(r.vsNaive, 2)}x` : '-', r.vsC ? `${fmt(r.vsC * 100, 0)} %` : '-',
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(`\n${describeCorpus(corpus)}`);
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    rows.forEach((row) => console.log(line(row)));
  }
}
if (layersOn) printReport();
function printReport() {
printTable();
console.log(`\nMB = 10^6 bytes of input per second; ${options.quick ? '1 run (--quick)' : `median of ${options.runs} runs`}; ` +
  `MB/CPU-s = input per CPU-second of all threads (median); peak RSS of the measuring process;\n` +
  `"x naive" = speed / naive Node pipeline, "of C" = speed / C baseline, at the same level: the median of the ratios within each round.`);
if (cBaseline?.skipped) console.log(`Note: ${cBaseline.skipped}, so the C baseline rows and "of C" are missing.`);
console.log('\nTargets (reported, never asserted):');
for (const t of targets) {
  console.log(`  ${t.status.padEnd(4)} ${t.name}: ${t.value === null ? 'not measured' : fmt(t.value, 2)} (goal >= ${t.goal})`);
}
}

// ---- memory --------------------------------------------------------------------------------------
let memory = null;
if (options.memory) {
  const engines = ['native', 'js'].filter((e) => available[e] && (wanted.has(e) || options.official));
  if (engines.length === 0) log('memory benchmark skipped: no fastlayer engine available');
  else {
    memory = await runMemoryBench({ sizeMB: options.memorySize, engines, log });
    console.log(`\nMemory: ${options.memorySize} MB generated layer, level 1, slow consumer:`);
    memory.results.forEach((m) => console.log(formatMemory(m)));
    for (const m of memory.results) if (m.problems?.length) fail(`memory ${m.engine}: ${m.problems.join('; ')}`);
  }
}

// ---- sections: one script each, in its own process -----------------------------------------------
const sections = {};
const skippedSections = {};
for (const name of options.sections.filter((s) => s !== 'layers')) {
  log(`\nsection ${name} (bench/${SECTIONS[name].script}${options.quick ? ' --quick' : ''}) ...`);
  const t0 = Date.now();
  const { result, skipped, error, log: childLog } = await runSection(name, { quick: options.quick, timeoutMs: (options.quick ? 10 : 45) * 60_000 });
  if (skipped !== undefined) {
    skippedSections[name] = skipped;
    log(`note: section ${name} skipped: ${skipped}`);
    continue;
  }
  if (error) {
    fail(`section ${name}: ${error}`);
    continue;
  }
  if (childLog?.trim()) log(childLog.trimEnd());
  result.seconds = Math.round((Date.now() - t0) / 1000);
  result.targets = sectionTargets(name, result);
  sections[name] = result;
  for (const f of result.failures ?? []) fail(`section ${name}: ${f}`);
  console.log(`\n${SECTIONS[name].title} (${result.seconds} s):`);
  for (const n of result.notes ?? []) console.log(`  note: ${n}`);
  for (const t of result.targets) {
    console.log(`  ${t.status.padEnd(4)} ${t.name}: ${t.value === null ? 'not measured' : fmt(t.value, 2)} (goal >= ${t.goal})`);
  }
}

// ---- outputs -------------------------------------------------------------------------------------
const report = {
  version: 1,
  date: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  quick: options.quick,
  official: options.official,
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: machineInfo(),
  engines: engineInfo,
  nativeThreads,
  nativeFingerprint,
  cBaseline: cBaseline
    ? { command: cBaseline.command && relativeCommand(cBaseline.command), error: cBaseline.error, skipped: cBaseline.skipped }
    : null,
  readSize: options.readSize,
  runs: options.quick ? 1 : options.runs,
  corpora: corpora.map(({ path, ...c }) => ({ ...c, file: relative(repoRoot, path) })),
  results,
  targets,
  memory,
  sections,
  skippedSections,
  failures,
};
function relativeCommand(command) {
  return command.split(repoRoot + '/').join('');
}

const outDir = options.official ? committedResultsDir : scratchResultsDir;
mkdirSync(outDir, { recursive: true });
const jsonPath = join(outDir, options.official ? 'latest.json' : `${options.quick ? 'quick' : 'partial'}.json`);
const svgPath = join(outDir, options.official ? 'throughput.svg' : `${options.quick ? 'quick' : 'partial'}.svg`);
if (failures.length === 0 || !options.official) {
  writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(svgPath, renderSvg(report));
  log(`\nwrote ${relative(repoRoot, jsonPath)} and ${relative(repoRoot, svgPath)}`);
  if (options.official && options.readme) log(updatePerformanceDocs(report));
}

if (failures.length) {
  console.log(`\n${failures.length} failure(s):`);
  failures.forEach((f) => console.log(`  - ${f}`));
  process.exitCode = 1;
}
