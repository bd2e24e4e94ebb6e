// Rewrites the performance section of docs/PERFORMANCE.md (between <!-- bench:start --> and
// <!-- bench:end -->) and the README's few-line summary (between <!-- bench-summary:start --> and
// <!-- bench-summary:end -->) from a results report.
// Run alone: node bench/readme.js [results.json] (default bench/results/latest.json).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ENGINE_LABELS, ENGINE_NOTES, ENGINE_ORDER, levelLabel } from './labels.js';
import { committedResultsDir, repoRoot } from './paths.js';
import { SECTION_NAMES, SECTIONS, sectionTargets } from './sections.js';
import { fmt, fmtRate } from './stats.js';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const SUMMARY_START = '<!-- bench-summary:start -->';
const SUMMARY_END = '<!-- bench-summary:end -->';
const HEADING = '## Performance';
export const PERFORMANCE_DOC = join(repoRoot, 'docs', 'PERFORMANCE.md');

const HOW = [
  'Reproduce: `npm run bench` (full run: builds the corpora once into `.cache/bench/`, measures every pipeline',
  'interleaved, then writes `bench/results/latest.json`, `bench/results/throughput.svg`, this section and the README summary);',
  '`npm run bench -- --quick` is a short run (32 MB corpora, one run, 256 MB memory test, results under',
  '`.cache/bench/results/`); CI\'s smoke check shrinks it further with `--size 8 --random-size 8 --text-size 8',
  '--memory-size 64` (every script runs end to end, no figure is checked).',
  '`node bench/memory.js` and `node bench/corpus.js` run the memory benchmark and the',
  'corpus builder alone; `node bench/run.js --help` lists the options. Speeds depend on the machine and, on a',
  'shared machine, on its neighbours: compare pipelines within one run, not across runs.',
  '',
  'The sections after the pipelines run each as its own script (a section whose tool is missing is skipped with',
  'a note; a digest that does not check out fails the run). Pick them with `--sections` (any of',
  '`layers,dir,zstd,streams,push,estargz,estargz-convert,image`; `layers` is the pipelines and the memory test), e.g.',
  '`npm run bench -- --quick --sections dir,zstd`; a subset writes under `.cache/bench/results/` like `--quick`.',
  'With `--quick` the sections use about 32 MB inputs and one run (zstd: the realistic tar only), so the whole',
  'short run stays a few minutes. Each also runs alone (`npm run build` first; `--quick` for a short run,',
  '`--json` for one JSON line on stdout):',
  '',
  '- `node bench/dir-layers.js [--small-dir DIR] [--size-check DIR]`: directory layers (needs GNU tar, gzip, sha256sum).',
  '- `node bench/zstd.js`: zstd levels 1/3/9/19 on the three corpora (the `zstd` command for the baseline rows).',
  '- `node bench/streams.js [--size MB] [--runs N] [--levels 1,6] [--threads N]`: the stream forms.',
  '- `node bench/push.js [--size MB] [--runs N]`: push to a local `docker-registry` against `skopeo copy`',
  '  (Debian packages `docker-registry` and `skopeo`; the registry runs on 127.0.0.1, storage in a temp folder).',
  '- `node bench/estargz.js`: eStargz against fastlayer gzip at the same level and threads.',
  '- `node bench/estargz-convert.js`: eStargz against `ctr-remote images convert --estargz --oci` of the same tar, in',
  '  a private containerd (root; Debian packages `containerd` and `stargz-snapshotter`).',
  '- `node bench/image.js [--size MB] [--repeat N] [DIR]`: image archive build against the layer alone.',
];

const pct = (x) => `${fmt(x * 100, 0)} %`;
const mb = (bytes) => fmt(bytes / 1e6, 1);

/** The tables of one section of a report (see sections.js), without its goals. */
function sectionTable(name, r) {
  if (name === 'dir') {
    const lines = ['| tree | pipeline | MB/s | CPU s | ratio |', '|---|---|---:|---:|---:|'];
    if (r.large) {
      lines.push(`| ${r.large.files} large files, ${mb(r.large.bytes)} MB as tar | \`Layer.fromFile\` of the tar | ${fmtRate(r.large.fromFileMBps)} | ${fmt(r.large.fromFileCpuSeconds, 2)} | |`);
      lines.push(`| | directory layer | ${fmtRate(r.large.dirMBps)} | ${fmt(r.large.dirCpuSeconds, 2)} | **${pct(r.large.ratio)}** of fromFile |`);
    }
    if (r.small) {
      lines.push(`| \`${r.small.dir}\`, ${mb(r.small.bytes)} MB as tar | \`tar \\| gzip -1\` + 2 x sha256sum | ${fmtRate(r.small.shellMBps)} | ${r.small.shellCpuSeconds === null ? '' : fmt(r.small.shellCpuSeconds, 2)} | |`);
      lines.push(`| | directory layer | ${fmtRate(r.small.dirMBps)} | ${fmt(r.small.dirCpuSeconds, 2)} | **${fmt(r.small.ratio, 2)}x** the shell |`);
    }
    return [`Gzip level 1, median of ${r.reps} run(s); MB/s of the uncompressed tar.`, '', ...lines];
  }
  if (name === 'zstd') {
    const out = [`Median of ${r.runs} run(s); "x base" = speed / \`zstd -3 -T1\` + both hashes on the same corpus; size in % of the input.`, ''];
    for (const corpus of [...new Set(r.rows.map((x) => x.corpus))]) {
      const rows = r.rows.filter((x) => x.corpus === corpus);
      out.push(`**${corpus}** (${mb(rows[0].bytes)} MB):`, '', '| pipeline | MB/s | x base | size % |', '|---|---:|---:|---:|');
      for (const x of rows) out.push(`| ${x.label} | ${fmtRate(x.mbps)} | ${fmt(x.ratio, 2)} | ${fmt(x.pct, 1)} |`);
      out.push('');
    }
    return out;
  }
  if (name === 'streams') {
    const out = [`Realistic tar, ${mb(r.corpus.bytes)} MB, engine ${r.engine?.name ?? '?'} on ${r.threads} thread(s), median of ${r.runs} interleaved run(s), each in its own process.`, ''];
    for (const level of r.results) {
      out.push(`Level ${level.level}:`, '', '| pipeline | MB/s | CPU s | output MB |', '|---|---:|---:|---:|');
      for (const x of level.rows) out.push(`| ${x.row} | ${fmtRate(x.MBps)} | ${fmt(x.cpuSeconds, 2)} | ${x.row === 'createReadStream alone' ? '–' : mb(x.size)} |`);
      out.push('');
    }
    return out;
  }
  if (name === 'push') {
    return [
      `A ${mb(r.bytes)} MB tar pushed as a new one-layer image (gzip level 1) to a fresh local \`docker-registry\`, median of ${r.runs} run(s), alternating:`,
      '',
      '| pusher | seconds | MB/s of input | layer MB |',
      '|---|---:|---:|---:|',
      `| fastlayer (streaming PATCH, no temp file) | ${fmt(r.fastlayerSeconds, 2)} | ${fmtRate(r.bytes / 1e6 / r.fastlayerSeconds)} | ${mb(r.fastlayerCompressed)} |`,
      `| \`skopeo copy --dest-compress-format gzip --dest-compress-level 1\` | ${fmt(r.skopeoSeconds, 2)} | ${fmtRate(r.bytes / 1e6 / r.skopeoSeconds)} | ${mb(r.skopeoCompressed)} |`,
    ];
  }
  if (name === 'estargz-convert') {
    return [
      `Realistic tar, ${mb(r.bytes)} MB, one gzip layer imported into a private containerd; median of ${r.runs} interleaved run(s); fastlayer on ${r.defaultThreads} threads, ctr-remote on every core (${r.version}):`,
      '',
      '| level | fastlayer eStargz MB/s | `ctr-remote images convert --estargz --oci` MB/s | fastlayer x | fastlayer size % of ctr-remote |',
      '|---:|---:|---:|---:|---:|',
      ...r.rows.map((x) => `| ${x.level} | ${fmtRate(x.fastlayerMBps)} | ${fmtRate(x.ctrRemoteMBps)} | **${fmt(x.ratio, 2)}** | ${fmt((100 * x.fastlayerSize) / x.ctrRemoteSize, 1)} |`),
    ];
  }
  if (name === 'image') {
    return [
      `A ${mb(r.tarBytes)} MB tree of shared libraries (as tar), archive ${mb(r.archiveBytes)} MB, median of ${r.repeat} run(s):`,
      '',
      '| pipeline | MB/s | vs fromFile |',
      '|---|---:|---:|',
      ...r.rows.map((x) => `| ${x.row} | ${fmtRate(x.mbps)} | ${fmt(x.vsFromFile, 2)}x |`),
    ];
  }
  return [];
}

/** Every section the report holds (and a line for each skipped one), goals computed from its ratios. */
export function renderSections(report) {
  const out = [];
  for (const name of SECTION_NAMES) {
    const r = report.sections?.[name];
    const skipped = report.skippedSections?.[name];
    if (!r && skipped === undefined) continue;
    out.push('', `### ${SECTIONS[name].title}`, '');
    if (!r) {
      out.push(`Skipped in this run: ${skipped} (needs ${SECTIONS[name].needs}).`);
      continue;
    }
    const table = sectionTable(name, r);
    while (table.at(-1) === '') table.pop();
    out.push(...table);
    for (const n of r.notes ?? []) out.push('', `Note: ${n}.`);
    const targets = sectionTargets(name, r);
    if (targets.length) {
      out.push('', 'Goals (ratios from this run, reported, never asserted):', '');
      for (const t of targets) out.push(`- ${t.name}: ${t.value === null ? 'not measured' : fmt(t.value, 2)} (goal >= ${t.goal}): **${t.status}**`);
    }
  }
  return out;
}

function corpusTable(report, corpus) {
  const rows = report.results.filter((r) => r.corpus === corpus.name);
  const levels = [...new Set(rows.map((r) => r.level))];
  const engines = ENGINE_ORDER.filter((e) => rows.some((r) => r.engine === e));
  const cell = (e, level) => {
    const r = rows.find((x) => x.engine === e && x.level === level);
    return r ? fmtRate(r.mbps.median) : '';
  };
  const lines = [
    `| level | ${engines.map((e) => ENGINE_LABELS[e]).join(' | ')} | native vs naive | native vs C | native size |`,
    `|---|${engines.map(() => '---:').join('|')}|---:|---:|---:|`,
  ];
  for (const level of levels) {
    const n = rows.find((x) => x.engine === 'native' && x.level === level);
    lines.push(`| ${levelLabel(level)} | ${engines.map((e) => cell(e, level)).join(' | ')} | ` +
      `${n?.vsNaive ? `**${fmt(n.vsNaive, 2)}x**` : ''} | ${n?.vsC ? `${fmt(n.vsC * 100, 0)} %` : ''} | ` +
      `${n ? `${fmt(n.sizePercent)} %` : ''} |`);
  }
  return lines;
}

export function renderSection(report, source) {
  if (!report) {
    return [
      '`npm run bench` compares, on a realistic layer tar of system files (300 MB), random data and a',
      'text-heavy tar, each at levels 0, 1, 2, 6, 9 and `compression: \'none\'`:',
      '',
      ...ENGINE_ORDER.map((e) => `- ${ENGINE_LABELS[e]}: ${ENGINE_NOTES[e]}`),
      '',
      'It reports MB/s of input (median, min and max of interleaved runs, each in its own process), MB per',
      'CPU-second, compressed size, peak RSS and the ratio to the naive pipeline; checks every digest against',
      'the bytes; measures peak memory while producing a 2 GB layer for a slow consumer; and reports the',
      'targets (level 1: at least 3.5x the naive pipeline and 90 % of the C baseline on the realistic tar).',
      '',
      'No full run has been recorded yet: its figures, chart and machine description replace this text.',
      '',
      ...HOW,
    ].join('\n');
  }
  const m = report.machine;
  const out = [
    `<!-- generated by bench/readme.js from ${source}: edit the generator, not this text -->`,
    `Measured by \`${report.command}\` on ${report.date.slice(0, 10)}: ${m.cpu}, ${m.cpus} vCPUs, ${m.memoryGB} GB,`,
    `${m.os}, Node ${m.node}. MB/s = 10^6 bytes of *input* per second, median of ${report.runs} run(s), each`,
    'measurement in its own process with the input file in the page cache; the runs of all pipelines are',
    `interleaved. Node pipelines read with \`fs.createReadStream\` (${report.readSize / 1024} KiB chunks).`,
    // Reports written before the runs carried their round give the ratio of the two medians.
    ...(report.results?.[0]?.runs?.[0]?.round !== undefined
      ? ['Each ratio ("vs naive", "vs C") is the median of the ratios of the runs of one round (each round runs every pipeline once, back to back).']
      : []),
    ...(report.nativeThreads ? [`The native rows use ${report.nativeThreads} thread(s), the default of a Layer on this machine; ` +
      '"1 thread" and "C baseline, same threads" separate what the threads bring from what Node costs.'] : []),
    ...(report.cBaseline?.skipped ? [`The C baseline rows are missing: ${report.cBaseline.skipped}.`] : []),
    '',
    'Corpora:',
    ...report.corpora.map((c) => `- **${c.name}** (${fmt(c.bytes / 1e6)} MB): ${c.description}` +
      `${c.entries ? `, ${c.entries} entries` : ''}; sha256 \`${c.sha256.slice(0, 16)}…\``),
    '',
    '![Throughput per pipeline and level](../bench/results/throughput.svg)',
    '',
  ];
  for (const corpus of report.corpora) {
    out.push(`**${corpus.name}** (MB/s):`, '', ...corpusTable(report, corpus), '');
  }
  out.push('Targets on the realistic tar (reported by the benchmark, never asserted by tests):', '');
  for (const t of report.targets) {
    out.push(`- ${t.name}: ${t.value === null ? 'not measured' : fmt(t.value, 2)} (goal >= ${t.goal}): **${t.status}**`);
  }
  if (report.memory) {
    out.push('', `Memory: a ${fmt((report.memory.results.find((r) => r.engine !== "control") ?? report.memory.results[0])?.bytes / 1e6, 0)} MB layer from generated semi-compressible data, ` +
      `level 1, consumer limited to ${report.memory.consumerMBps} MB/s of output; peak RSS above the baseline measured in the same process ` +
      `(goal: at most +${report.memory.targetMiB} MiB):`, '');
    for (const r of report.memory.results) {
      if (r.baselineMiB === undefined) out.push(`- ${r.engine}: failed`);
      else if (r.engine === 'control') {
        out.push(`- the harness alone (same generator and consumer, no layer; ${fmt(r.bytes / 1e6, 0)} MB): +${fmt(r.deltaMiB)} MiB ` +
          '(fresh 64 KiB buffers, Node streams and V8 garbage collection)');
      } else {
        out.push(`- ${ENGINE_LABELS[r.engine]}: **+${fmt(r.deltaMiB)} MiB** (baseline ${fmt(r.baselineMiB)} MiB, peak ${fmt(r.peakMiB)} MiB` +
          `${r.overControlMiB !== undefined ? `; ${fmt(r.overControlMiB)} MiB more than the harness alone` : ''}), ${r.pass ? 'PASS' : 'MISS'}`);
      }
    }
  }
  out.push(...renderSections(report));
  out.push('', 'Pipelines:', '');
  const engines = ENGINE_ORDER.filter((e) => report.results.some((r) => r.engine === e));
  for (const e of engines) out.push(`- ${ENGINE_LABELS[e]}: ${ENGINE_NOTES[e]}`);
  out.push('', ...HOW);
  return out.join('\n');
}

/** One summary line for zstd level 3 against gzip level 6 on the realistic tar, when the run has it. */
function zstdSummary(report) {
  const r = report?.sections?.zstd;
  const row = (tool, level) => r?.rows?.find((x) => x.corpus === 'realistic' && x.tool === tool && x.level === level && x.threads === r.defaultThreads);
  const z3 = row('fastlayer-zstd', 3);
  const g6 = row('fastlayer-gzip', 6);
  if (!z3 || !g6) return [];
  return [`zstd level 3 (\`compression: 'zstd'\`): ${fmtRate(z3.mbps)} MB/s and ${fmt(z3.pct, 1)} % of the input, ` +
    `against ${fmtRate(g6.mbps)} MB/s and ${fmt(g6.pct, 1)} % for gzip level 6 (${r.defaultThreads} threads, ${fmt(z3.bytes / 1e6, 0)} MB realistic tar).`];
}

/** The README's summary: level 1 on the realistic tar against the baselines, and the memory figure. */
export function renderSummary(report) {
  const row = (engine) => report?.results.find((r) => r.corpus === 'realistic' && r.engine === engine && r.level === 1);
  const native = row('native');
  if (!native) {
    return 'No full benchmark run has been recorded yet: `npm run bench` measures it, see [docs/PERFORMANCE.md](docs/PERFORMANCE.md).';
  }
  const m = report.machine;
  const parts = [`${fmtRate(native.mbps.median)} MB/s of input`];
  if (native.vsNaive) parts.push(`${fmt(native.vsNaive, 2)}x the naive Node pipeline (\`zlib.createGzip\` with two SHA-256 taps)`);
  if (native.vsC) parts.push(`${fmt(native.vsC * 100, 0)} % of a single-threaded C program running the same core`);
  const mem = report.memory?.results.find((r) => r.engine === 'native' && r.deltaMiB !== undefined);
  return [
    `Level 1 on a ${fmt(report.corpora.find((c) => c.name === 'realistic').bytes / 1e6, 0)} MB layer tar of system files, ` +
      `${m.cpu} with ${m.cpus} vCPUs, Node ${m.node} (\`${report.command}\`, ${report.date.slice(0, 10)}): ${parts.join(', ')}.`,
    ...zstdSummary(report),
    ...(mem ? [`Producing a ${fmt(mem.bytes / 1e6, 0)} MB layer for a slow consumer takes +${fmt(mem.deltaMiB)} MiB of memory.`] : []),
    'Every corpus, level and pipeline, the memory benchmark and how to reproduce: [docs/PERFORMANCE.md](docs/PERFORMANCE.md).',
  ].join('\n');
}

/** Replaces the text between start and end in file; false when the markers are not there. */
function replaceMarked(file, start, end, body) {
  if (!existsSync(file)) return false;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(file, text.slice(0, a) + `${start}\n${body}\n${end}` + text.slice(b + end.length));
  return true;
}

/**
 * Replaces the marked section of docs/PERFORMANCE.md (created with its heading and markers if absent)
 * and the README's marked summary (left alone when the README has no markers).
 */
export function updatePerformanceDocs(
  report,
  docPath = PERFORMANCE_DOC,
  source = 'bench/results/latest.json',
  readmePath = join(repoRoot, 'README.md'),
) {
  const body = renderSection(report, source);
  if (!replaceMarked(docPath, START, END, body)) {
    const doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Performance\n';
    writeFileSync(docPath, doc.replace(/\n*$/, '\n\n') + `${HEADING}\n\n${START}\n${body}\n${END}\n`);
  }
  const summary = replaceMarked(readmePath, SUMMARY_START, SUMMARY_END, renderSummary(report));
  return `updated the performance section of ${relative(repoRoot, docPath)}` +
    (summary ? ` and the summary in ${relative(repoRoot, readmePath)}` : '');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? join(committedResultsDir, 'latest.json');
  const report = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
  if (!report) console.error(`${relative(repoRoot, file)} does not exist: writing the placeholder section`);
  console.log(updatePerformanceDocs(report, undefined, relative(repoRoot, file)));
}
