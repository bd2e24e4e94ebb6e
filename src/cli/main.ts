#!/usr/bin/env node
// fastlayer CLI: turns a directory, a file or stdin into a layer and prints its OCI descriptor.
import { createReadStream, createWriteStream, existsSync, statSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { arch } from 'node:os';
import { Layer } from '../layer/layer.js';
import { MAX_THREADS, type LayerOptions } from '../layer/options.js';
import { tarDirectory } from '../tar/directory.js';

const USAGE = `usage: fastlayer [DIR|FILE|-] [--level N] [--none] [--output FILE] [--engine js|native] [--threads N] [--media-type T]

  DIR               archived as a deterministic tar (sorted names, root:root, mtimes kept)
  FILE              read as is (a tar, or any bytes)
  -                 read standard input
  (nothing)         the first existing of: ${defaultDirs().join(', ')}
  --level N         compression level 0-9 (default 1)
  --none            no compression: the layer is the input itself
  --output FILE     write the compressed layer to FILE (default: compute the descriptor only)
  --engine E        force the 'native' or 'js' engine (default: native when it loads)
  --threads N       compress on up to N threads, 1-${MAX_THREADS} (default: the CPUs, up to 4; same bytes)
  --media-type T    media type to report (default: Docker's gzip layer type)

Prints the descriptor {mediaType, digest, size, diffID, engine} as JSON on stdout, throughput on stderr.`;

/** Present on every Debian/Ubuntu machine, tens of MB: a realistic default input. */
function defaultDirs(): string[] {
  const triplet = arch() === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return ['/usr/share/doc', `/usr/lib/${triplet}/perl-base`, '/usr/lib'];
}

class UsageError extends Error {}

interface Parsed {
  input: string;
  options: LayerOptions;
  output: string | undefined;
}

function parse(argv: string[]): Parsed | 'help' {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        level: { type: 'string', short: 'l' },
        none: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        engine: { type: 'string' },
        threads: { type: 'string', short: 't' },
        'media-type': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (positionals.length > 1) throw new UsageError(`expected at most one input, got ${positionals.length}: ${positionals.join(' ')}`);
  const options: LayerOptions = {};
  if (values.level !== undefined) {
    if (!/^[0-9]$/.test(values.level)) throw new UsageError(`--level must be an integer from 0 to 9, got "${values.level}"`);
    options.compressionLevel = Number(values.level);
  }
  if (values.none) options.compression = 'none';
  if (values.engine !== undefined) {
    if (values.engine !== 'js' && values.engine !== 'native') throw new UsageError(`--engine must be js or native, got "${values.engine}"`);
    options.engine = values.engine;
  }
  if (values.threads !== undefined) {
    if (!/^[0-9]+$/.test(values.threads) || Number(values.threads) < 1 || Number(values.threads) > MAX_THREADS) {
      throw new UsageError(`--threads must be an integer from 1 to ${MAX_THREADS}, got "${values.threads}"`);
    }
    options.threads = Number(values.threads);
  }
  if (values['media-type'] !== undefined) options.mediaType = values['media-type'];
  const input = positionals[0] ?? defaultDirs().find((d) => existsSync(d));
  if (input === undefined) throw new UsageError(`no input given and none of ${defaultDirs().join(', ')} exists`);
  return { input, options, output: values.output };
}

async function* counted(source: AsyncIterable<Uint8Array>, counter: { bytes: number }) {
  for await (const chunk of source) {
    counter.bytes += chunk.length;
    yield chunk;
  }
}

function openInput(input: string): AsyncIterable<Uint8Array> {
  if (input === '-') return process.stdin;
  let stats;
  try {
    stats = statSync(input);
  } catch (err) {
    throw new UsageError(`cannot read ${input}: ${(err as Error).message}`);
  }
  if (stats.isDirectory()) {
    return tarDirectory(input, { onSkip: (path, kind) => process.stderr.write(`fastlayer: skipping ${kind} ${path}\n`) });
  }
  return createReadStream(input, { highWaterMark: 1024 * 1024 });
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  let layer;
  const counter = { bytes: 0 };
  try {
    parsed = parse(argv);
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    layer = new Layer(counted(openInput(parsed.input), counter), parsed.options);
  } catch (err) {
    process.stderr.write(`fastlayer: ${(err as Error).message}\n\n${USAGE}\n`);
    return 1;
  }

  const started = process.hrtime.bigint();
  const sink = parsed.output === undefined
    ? new Writable({ write: (_chunk, _encoding, done) => done() })
    : createWriteStream(parsed.output);
  try {
    await pipeline(layer.compressed(), sink);
  } catch (err) {
    if (parsed.output !== undefined) rmSync(parsed.output, { force: true });
    process.stderr.write(`fastlayer: ${(err as Error).message}\n`);
    return 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const descriptor = {
    mediaType: layer.mediaType(),
    digest: layer.digest().toString(),
    size: layer.size(),
    diffID: layer.diffID().toString(),
    engine: { name: layer.engine.name, ...layer.engine.details },
  };
  process.stdout.write(`${JSON.stringify(descriptor, null, 2)}\n`);
  const mb = counter.bytes / 1e6;
  process.stderr.write(
    `fastlayer: ${parsed.input}: ${mb.toFixed(1)} MB in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(1)} MB/s ` +
      `(level ${layer.compressionLevel}${layer.compression === 'none' ? ', no compression' : ''}, ${layer.engine.name} engine, ${layer.threads} thread${layer.threads === 1 ? '' : 's'}, ` +
      `${(layer.size() / 1e6).toFixed(1)} MB out)\n`,
  );
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
