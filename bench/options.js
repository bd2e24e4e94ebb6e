// Command-line options shared by run.js, corpus.js and memory.js.
import { parseArgs } from 'node:util';

const ALL_CORPORA = ['realistic', 'random', 'text'];
const ALL_ENGINES = ['native', 'native1', 'stream', 'js', 'naive', 'c', 'cthreads', 'pigz'];
const ALL_LEVELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'none'];
const DEFAULT_LEVELS = ['0', '1', '2', '6', '9', 'none'];
// 'layers' is the pipelines above; the others are the scripts of bench/sections.js.
const ALL_SECTIONS = ['layers', 'dir', 'zstd', 'streams', 'push', 'estargz', 'estargz-convert', 'image'];

const USAGE = `usage: node bench/run.js [options]
  --quick             small corpora (~32 MB), one run, 256 MB memory test (CI adds smaller --size options for its smoke check)
  --size MB           cap of the realistic tar (default 300)
  --random-size MB    size of the random corpus (default 128)
  --text-size MB      cap of the text-heavy tar (default 128)
  --runs N            timed runs per measurement (default 3; --quick: 1)
  --corpus LIST       subset of ${ALL_CORPORA.join(',')}
  --engines LIST      subset of ${ALL_ENGINES.join(',')}
  --levels LIST       any of 0-9 and none (default ${DEFAULT_LEVELS.join(',')}; the js engine runs at 1 and 6 only)
  --read-size KiB     fs.createReadStream highWaterMark for the Node measurements (default 64, Node's default)
  --memory-size MB    layer size of the memory benchmark (default 2048; --quick: 256)
  --no-memory         skip the memory benchmark
  --allow-missing     report an unavailable engine (native addon, C baseline) instead of failing
  --no-readme         do not rewrite docs/PERFORMANCE.md and the README summary after a full run
  --scaling           only the per-stage scaling report (bench/scaling.js; --size MB, --levels 1,6, --no-push)
  --sections LIST     subset of ${ALL_SECTIONS.join(',')} (default all): layers = the pipelines and memory test,
                      dir = directory layers, zstd = zstd levels, streams = createGzip forms, push = registry
                      push vs skopeo, estargz = eStargz vs gzip, estargz-convert = eStargz vs ctr-remote
                      images convert, image = archive build; a section whose tool is missing is skipped
A run with any subset option or --quick writes its results under .cache/bench/results/ and leaves
bench/results/ (the committed figures) alone.`;

function list(value, allowed, name, defaults = allowed) {
  if (value === undefined) return defaults.slice();
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item)) throw new RangeError(`--${name}: unknown value '${item}' (allowed: ${allowed.join(',')})`);
  }
  return allowed.filter((a) => items.includes(a));
}

function positive(value, fallback, name) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--${name}: expected a positive number, got '${value}'`);
  return n;
}

/** Parses the command line; on a bad option prints the reason and exits with status 2. */
export function parseOptions(argv = process.argv.slice(2)) {
  try {
    return parse(argv);
  } catch (err) {
    console.error(`${err.message}\n(see --help)`);
    process.exit(2);
  }
}

function parse(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      size: { type: 'string' },
      'random-size': { type: 'string' },
      'text-size': { type: 'string' },
      runs: { type: 'string' },
      corpus: { type: 'string' },
      engines: { type: 'string' },
      levels: { type: 'string' },
      'read-size': { type: 'string' },
      'memory-size': { type: 'string' },
      'no-memory': { type: 'boolean', default: false },
      'allow-missing': { type: 'boolean', default: false },
      'no-readme': { type: 'boolean', default: false },
      sections: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick;
  const small = 32;
  const options = {
    quick,
    sizes: {
      realistic: positive(values.size, quick ? small : 300, 'size'),
      random: positive(values['random-size'], quick ? small : 128, 'random-size'),
      text: positive(values['text-size'], quick ? small : 128, 'text-size'),
    },
    runs: Math.round(positive(values.runs, quick ? 1 : 3, 'runs')),
    corpora: list(values.corpus, ALL_CORPORA, 'corpus'),
    engines: list(values.engines, ALL_ENGINES, 'engines'),
    levels: list(values.levels, ALL_LEVELS, 'levels', DEFAULT_LEVELS).map((l) => (l === 'none' ? 'none' : Number(l))),
    readSize: Math.round(positive(values['read-size'], 64, 'read-size') * 1024),
    memorySize: positive(values['memory-size'], quick ? 256 : 2048, 'memory-size'),
    memory: !values['no-memory'],
    allowMissing: values['allow-missing'],
    readme: !values['no-readme'],
    sections: list(values.sections, ALL_SECTIONS, 'sections'),
  };
  // Only the complete default run may replace the committed figures.
  options.official =
    !quick &&
    [values.size, values['random-size'], values['text-size'], values.runs, values.corpus, values.engines,
      values.levels, values['read-size'], values['memory-size'], values.sections].every((v) => v === undefined) &&
    options.memory;
  return options;
}
