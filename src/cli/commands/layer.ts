// `fastlayer layer DIR|FILE|-`: one layer, its bytes to -o (a file, or stdout with `-o -`), its
// descriptor on stdout.
import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { Layer } from '../../layer/layer.js';
import { cliDefaultThreads, MAX_THREADS, ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL, type LayerCompression, type LayerOptions } from '../../layer/options.js';
import type { TarOptions } from '../../tar/directory.js';
import { parseRfc3339 } from '../../core/time.js';
import { MAX_MTIME_SECONDS } from '../../tar/header.js';
import { hasWhiteoutComponent } from '../../tar/walker.js';
import {
  REPORT_OPTIONS, choiceOption, defaultMtimeArg, flag, integerOption, listOption, progressBoard, stringOption,
  type Args, type Command, type Context,
} from '../command.js';
import { CliError, ErrCliInput, ErrCliUsage, reason, writeFailure } from '../errors.js';
import { escapeLine } from '../escape.js';
import { estimateTarSize, openInput, type Input } from '../input.js';
import { openOutput, refuseStdoutTwice, type Output } from '../output.js';
import type { ProgressBoard } from '../progress.js';
import { writeStderr, writeStdout } from '../stdio.js';
import { ESTARGZ_OPTIONS, estargzFlags } from '../estargz-layer.js';
import { layerDescriptor } from '../../layer/layer.js';

/** Compressions `--compression` accepts, first is the default: the one list to extend. */
export const LAYER_COMPRESSIONS = ['gzip', 'zstd', 'none', 'estargz'] as const satisfies readonly LayerCompression[];

/** Present on every Debian/Ubuntu machine, tens of MB: a realistic default input for `npm start`. */
export function defaultDirs(): string[] {
  const triplet = arch() === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return ['/usr/share/doc', `/usr/lib/${triplet}/perl-base`, '/usr/lib'];
}

const NAME = 'layer';

function usage(message: string): ErrCliUsage {
  return new ErrCliUsage(message, NAME);
}

/**
 * --mtime: keep the files' times, set them all to a time, or clamp them to a time (SOURCE_DATE_EPOCH
 * style). The shape of the directory archiver's `mtime` option, in seconds.
 */
export type MtimeOption = 'keep' | number | { clamp: number };

/** The directory flags, parsed and checked: each one is the TarOptions field of the same name. */
export interface DirectoryFlags {
  prefix?: string;
  exclude?: string[];
  mtime?: MtimeOption;
  owner?: { uid: number; gid: number };
  /** --keep-whiteout-files: `.wh.*` entries (and a `.wh.*` --prefix) written as they are, on purpose. */
  keepWhiteoutFiles?: boolean;
}

/**
 * Seconds, or an RFC 3339 time with a zone or a date (midnight UTC): Date.parse read
 * `2024-01-31T00:00:00` in the host's local time (another layer digest per TZ), so it is not taken.
 */
function parseTime(text: string): number | undefined {
  if (/^-?[0-9]+$/.test(text)) return Number(text);
  const ms = parseRfc3339(text);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export function parseDirectoryFlags(args: Args): DirectoryFlags {
  const flags: DirectoryFlags = {};
  if (flag(args, 'keep-whiteout-files')) flags.keepWhiteoutFiles = true;
  const prefix = stringOption(args, 'prefix');
  if (prefix !== undefined) {
    if (prefix === '' || prefix.split('/').includes('..')) throw usage(`--prefix must be a path inside the image without '..', got "${prefix}"`);
    // A directory named .wh.* is a whiteout to every image tool: '/.wh.etc' would delete the lower /etc.
    if (!flags.keepWhiteoutFiles && hasWhiteoutComponent(prefix)) throw usage(`--prefix must not hold a directory named .wh.* (a whiteout to every image tool; --keep-whiteout-files writes it on purpose), got "${prefix}"`);
    flags.prefix = prefix;
  }
  const exclude = listOption(args, 'exclude');
  if (exclude.length > 0) {
    if (exclude.some((p) => p === '')) throw usage('--exclude needs a non-empty pattern');
    flags.exclude = exclude;
  }
  const mtime = stringOption(args, 'mtime');
  if (mtime !== undefined) {
    const clamp = mtime.startsWith('clamp:');
    const seconds = parseTime(clamp ? mtime.slice(6) : mtime);
    if (mtime === 'keep') flags.mtime = 'keep';
    else if (seconds !== undefined && Number.isSafeInteger(seconds) && Math.abs(seconds) <= MAX_MTIME_SECONDS) flags.mtime = clamp ? { clamp: seconds } : seconds;
    else throw usage(`--mtime must be keep, a Unix time in seconds, an RFC 3339 time with a zone (2024-01-31T00:00:00Z), a date (2024-01-31, UTC) or clamp:TIME, got "${mtime}"`);
  }
  const owner = stringOption(args, 'owner');
  if (owner !== undefined) {
    const m = /^([0-9]{1,10}):([0-9]{1,10})$/.exec(owner);
    if (!m || Number(m[1]) > 0xfffffffe || Number(m[2]) > 0xfffffffe) throw usage(`--owner must be UID:GID (numbers), got "${owner}"`);
    flags.owner = { uid: Number(m[1]), gid: Number(m[2]) };
  }
  return flags;
}

/** The TarOptions for these flags: each flag is the option of the same name. */
function tarOptions(flags: DirectoryFlags, onSkip: TarOptions['onSkip']): TarOptions {
  return { ...flags, onSkip };
}

function layerOptions(args: Args): LayerOptions {
  const options: LayerOptions = {};
  const compression = choiceOption(args, 'compression', LAYER_COMPRESSIONS, NAME);
  if (flag(args, 'none')) {
    if (compression !== undefined && compression !== 'none') throw usage(`--none contradicts --compression ${compression}`);
    options.compression = 'none';
  } else if (compression !== undefined) options.compression = compression;
  const estargz = estargzFlags(args, options.compression === 'estargz', NAME);
  if (estargz !== undefined) options.estargz = estargz;
  const level = levelOption(args, options.compression, NAME);
  if (level !== undefined) options.compressionLevel = level;
  const engine = choiceOption(args, 'engine', ['native', 'js'] as const, NAME);
  if (engine !== undefined) options.engine = engine;
  const threads = integerOption(args, 'threads', 1, MAX_THREADS, NAME);
  options.threads = threads ?? cliDefaultThreads();
  const mediaType = stringOption(args, 'media-type');
  if (mediaType !== undefined) {
    if (mediaType.trim() === '') throw usage('--media-type must not be empty');
    options.mediaType = mediaType;
  }
  return options;
}

/**
 * --level within the compression's range: 1-19 for zstd (the ultra levels are refused), 0-9
 * otherwise (gzip; ignored for none). A usage error naming the range.
 */
export function levelOption(args: Args, compression: LayerCompression | undefined, command: string): number | undefined {
  return compression === 'zstd'
    ? integerOption(args, 'level', ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL, command)
    : integerOption(args, 'level', 0, 9, command);
}

function discardSink(): Writable {
  return new Writable({ highWaterMark: 1024 * 1024, write: (_chunk, _encoding, done) => done() });
}

/** Turns what failed while streaming into one clear error naming the input or the output. */
function explain(err: unknown, input: Input, output: Output | undefined, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (err instanceof CliError) return err;
  // The pipeline destroys every stream with the first error, so which stream emitted it says
  // nothing; the system call that failed does.
  const call = (err as NodeJS.ErrnoException | null)?.syscall;
  if (typeof call !== 'string') return err;
  const failed = output && writeFailure(err, output.name, ['connect']);
  if (failed) return failed;
  return new ErrCliInput(`cannot read ${input.label}: ${reason(err)}`, err);
}

async function produce(layer: Layer, input: Input, output: Output | undefined, board: ProgressBoard, signal: AbortSignal): Promise<number> {
  const line = board.addLine(input.label, input.total);
  let ticker: NodeJS.Timeout | undefined;
  // The size scan is only for the display: it stops when the layer is done.
  const scan = new AbortController();
  if (board.enabled) {
    ticker = setInterval(() => line.update(input.bytesRead()), 100);
    if (input.kind === 'directory') {
      void estimateTarSize(input.label, AbortSignal.any([signal, scan.signal])).then((total) => line.setTotal(total));
    }
  }
  const started = process.hrtime.bigint();
  try {
    await pipeline(layer.compressed(), output?.stream ?? discardSink());
    await output?.commit();
    // A directory's total was an estimate; now it is known.
    if (input.kind === 'directory') line.setTotal(input.bytesRead());
    line.finish(input.bytesRead());
  } catch (err) {
    line.fail(signal.aborted ? 'interrupted' : 'failed');
    await output?.discard();
    throw explain(err, input, output, signal);
  } finally {
    scan.abort();
    if (ticker) clearInterval(ticker);
    board.close();
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function run(args: Args, context: Context): Promise<number> {
  if (args.positionals.length > 1) throw usage(`expected at most one input, got ${args.positionals.length}: ${args.positionals.join(' ')}`);
  const options = layerOptions(args);
  const outputPath = stringOption(args, 'output');
  const json = flag(args, 'json');
  const quiet = flag(args, 'quiet');
  if (json && outputPath !== undefined) await refuseStdoutTwice('-o', outputPath, 'the layer', NAME);
  const flags = parseDirectoryFlags(args);
  const inputPath = args.positionals[0] ?? defaultDirs().find((d) => existsSync(d));
  if (inputPath === undefined) throw usage(`no input given, and none of ${defaultDirs().join(', ')} exists`);

  const input = openInput(inputPath);
  let output: Output | undefined;
  try {
    if (input.kind !== 'directory' && Object.keys(flags).length > 0) {
      throw usage(`--${Object.keys(flags)[0]} applies to directory inputs only, and ${input.label} is not a directory`);
    }
    // A directory's entry times default to the reproducible policy (docs/CLI.md): --mtime keep for the files' own.
    const dirFlags = input.kind === 'directory' && flags.mtime === undefined ? { ...flags, mtime: defaultMtimeArg(NAME) as MtimeOption } : flags;
    const board = progressBoard(args);
    const source = input.open(tarOptions(dirFlags, (path, kind) => board.log(`fastlayer: skipping ${kind} ${path}\n`)));
    const layer = new Layer(source, { ...options, signal: context.signal });
    if (outputPath !== undefined) output = await openOutput(outputPath, input.guard(), context.signal);
    const seconds = await produce(layer, input, output, board, context.signal);

    const values = await layer.done;
    // eStargz: the descriptor's annotations, and a summary of the TOC it wrote.
    const { annotations, ...plain } = layerDescriptor(values);
    const descriptor = { ...plain, diffID: values.diffID.toString(), ...(annotations === undefined ? {} : { annotations }) };
    const toc = values.estargz === undefined ? {} : { toc: { entries: values.estargz.entries, chunks: values.estargz.chunks, landmark: values.estargz.landmark, digest: values.estargz.tocDigest } };
    const engine = { name: layer.engine.name, ...layer.engine.details };
    const inputBytes = input.bytesRead();
    if (json) {
      await writeStdout(`${JSON.stringify({
        ...descriptor,
        compression: layer.compression,
        ...toc,
        level: layer.compressionLevel,
        threads: layer.threads,
        engine,
        input: { path: input.label, kind: input.kind, bytes: inputBytes },
        output: output?.name ?? null,
        seconds,
      })}\n`);
      return 0;
    }
    // As before the subcommands: the descriptor on stdout, unless the layer itself went there.
    const text = `${JSON.stringify({ ...descriptor, engine }, null, 2)}\n`;
    if (output?.isStdout) await writeStderr(text);
    else await writeStdout(text);
    if (!quiet) {
      const mb = inputBytes / 1e6;
      // The input's and output's names are paths: escaped like every line for people.
      await writeStderr(escapeLine(
        `fastlayer: ${input.label}: ${mb.toFixed(1)} MB in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(1)} MB/s ` +
          `(level ${layer.compressionLevel}${layer.compression === 'none' ? ', no compression' : ''}, ${layer.engine.name} engine, ` +
          `${layer.threads} thread${layer.threads === 1 ? '' : 's'}, ${(layer.size() / 1e6).toFixed(1)} MB out` +
          `${output ? ` to ${output.name}` : ''})\n`,
      ));
    }
    return 0;
  } catch (err) {
    await output?.discard();
    throw err;
  } finally {
    input.close();
  }
}

export const layerCommand: Command = {
  name: NAME,
  usage: 'layer [DIR|FILE|-] [options]',
  description: [
    'DIR is archived as a deterministic tar (sorted names, root:root, hard links kept); FILE is read as is',
    '(a tar, or any bytes); - reads standard input. Without an input: the first existing of',
    `${defaultDirs().join(', ')}.`,
    '`fastlayer DIR` (no command) is the same as `fastlayer layer DIR`.',
    '',
    'The descriptor {mediaType, digest, size, diffID, engine} is printed as JSON on standard output',
    '(on standard error with -o -), and the throughput on standard error. Without -o, the layer',
    'bytes are computed and discarded. An existing -o file is replaced only once the layer is',
    'complete; -o naming the input, or a path inside the input directory, is refused.',
  ].join('\n'),
  options: {
    output: { type: 'string', short: 'o', value: 'FILE|-', help: 'write the layer to FILE, or to standard output with -' },
    level: { type: 'string', short: 'l', value: 'N', help: `compression level: gzip 0-9 (default 1), zstd ${ZSTD_MIN_LEVEL}-${ZSTD_MAX_LEVEL} (default 3)` },
    compression: { type: 'string', value: LAYER_COMPRESSIONS.join('|'), help: `compression (default ${LAYER_COMPRESSIONS[0]}); none: the layer is the input itself; estargz: a lazily pullable gzip layer (the input must be a tar)` },
    ...ESTARGZ_OPTIONS,
    none: { type: 'boolean', help: 'same as --compression none', hidden: true },
    'media-type': { type: 'string', value: 'TYPE', help: "media type to report (default: Docker's gzip layer type; OCI's zstd or uncompressed layer type for zstd, none)" },
    threads: { type: 'string', short: 't', value: 'N', help: `compress on up to N threads, 1-${MAX_THREADS} (default: FASTLAYER_THREADS, else every CPU up to ${MAX_THREADS}; same bytes)` },
    engine: { type: 'string', value: 'native|js', help: 'force an engine (default: native when it loads)' },
    prefix: { type: 'string', value: 'PATH', help: 'directories: put the entries under PATH in the layer' },
    exclude: { type: 'string', multiple: true, value: 'PATTERN', help: 'directories: leave out paths matching PATTERN (.dockerignore syntax)' },
    mtime: { type: 'string', value: 'keep|TIME|clamp:TIME', help: 'directories: entry times (TIME: Unix seconds, RFC 3339 with Z or an offset, or a date (UTC); default: clamp to SOURCE_DATE_EPOCH when set, else 0)' },
    owner: { type: 'string', value: 'UID:GID', help: 'directories: owner to record (default 0:0)' },
    'keep-whiteout-files': { type: 'boolean', help: 'directories: write entries named .wh.* as they are (whiteouts: they delete paths of the layers below); refused by default' },
    ...REPORT_OPTIONS,
  },
  run,
};
