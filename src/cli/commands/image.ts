// `fastlayer image`: an image of directories (on an optional base) to an archive (--output), an OCI
// layout (--oci-dir) or a registry (--push). buildImage (src/build/build.ts) does the work; this file
// turns flags into its spec, keeps outputs away from the inputs, and reports.
import { statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { buildImage, parseCommand, parseLayerArg, type BuildSpec, type LayerSpec, type TarLayerSpec } from '../../build/build.js';
import { cleanDest, parseMtimeArg, parseOwnerArg } from '../../build/dir-layer.js';
import { formatPlatform, parsePlatform, platformKey } from '../../image/platform.js';
import { Reference } from '../../image/reference.js';
import type { WriteProgress, WriteResult } from '../../image/write.js';
import { RegistryDestination } from '../../registry/destination.js';
import { cliDefaultThreads, MAX_THREADS } from '../../layer/options.js';
import { resolveBaseSource, type ResolvedBase } from '../../image/base-source.js';
import type { RegistryOptions } from '../../registry/client.js';
import { containerConfig, resolveCreated, type Healthcheck } from '../../image/config.js';
import { parseRfc3339 } from '../../core/time.js';
import { LAYER_COMPRESSIONS, levelOption } from './layer.js';
import { ESTARGZ_OPTIONS, estargzFlags } from '../estargz-layer.js';
import {
  REPORT_OPTIONS, choiceOption, defaultMtimeArg, flag, integerOption, listOption, progressBoard, stringOption,
  type Args, type Command, type Context,
} from '../command.js';
import { ErrCliInput, ErrCliOutput, ErrCliUsage, writing } from '../errors.js';
import { escapeControls } from '../escape.js';
import { inputGuard, isStdinAlias, openInput } from '../input.js';
import { openOutput, refuseDirectoryInside, refuseStdoutTwice, type Output, type Protected } from '../output.js';
import { printResult, resultJSON, type Written } from '../image-report.js';
import { PIPELINE_OPTIONS, PipelineOutputs, pipelinePaths } from '../pipeline-outputs.js';
import { defaultLayerCacheDir } from '../../build/layer-cache.js';
import { pushTagNames } from '../push-tags.js';
import { writeInto } from '../archive-output.js';
import type { ProgressBoard } from '../progress.js';
import { BlobLines, REGISTRY_OPTIONS, checkRegistryFlags, registryOptionsOf } from '../registry-flags.js';
import { writeStderr } from '../stdio.js';
import { reported } from '../reported.js';

// The command whose flags are being read: `image`, or `node`, which runs this file's build with the
// layers of a Node project (runImage's `prepare`). One command runs per process.
let NAME = 'image';

function usage(message: string): ErrCliUsage {
  return new ErrCliUsage(message, NAME);
}

/** Runs `parse` on a flag's value; its error (a bad value) becomes a usage error naming the flag. */
function checked<T>(flagName: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw usage(`--${flagName}: ${(err as Error).message}`);
  }
}

/**
 * DIR[:DEST] with DEST checked as buildImage will (absolute, no '..'), so a bad one is exit 2. A
 * path that is a regular file is a tar layer (FILE.tar, .tar.gz, .tar.zst: told by content, not name).
 */
function layerArg(arg: string, keepWhiteoutFiles: boolean): LayerSpec | TarLayerSpec {
  const layer = parseLayerArg(arg);
  if (statSync(layer.dir, { throwIfNoEntry: false })?.isFile()) {
    if (layer.dest !== undefined) throw new Error(`${layer.dir} is a tar file: its entries keep their own paths (no :DEST)`);
    return { tar: layer.dir };
  }
  if (layer.dest !== undefined) cleanDest('layer', layer.dest, keepWhiteoutFiles);
  return layer;
}

function pairsOption(args: Args, name: string): string[] {
  const list = listOption(args, name);
  for (const kv of list) if (kv.indexOf('=') <= 0) throw usage(`--${name} must be KEY=VALUE, got "${kv}"`);
  return list;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** `30s`, `1m30s`, `500ms` (Docker's --health-* durations) as the nanoseconds the config stores. */
function duration(flagName: string, value: string): number {
  if (!/^(?:[0-9]+(?:ns|us|ms|s|m|h))+$/.test(value)) throw usage(`--${flagName} must be a duration like 30s, 1m30s or 500ms, got "${value}"`);
  let ns = 0;
  for (const m of value.matchAll(/([0-9]+)(ns|us|ms|s|m|h)/g)) ns += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  if (!Number.isSafeInteger(ns)) throw usage(`--${flagName} is too long: "${value}"`);
  return ns;
}

/** --health-cmd: a JSON array is exec form (CMD), `none` turns the base's off, any other string runs in a shell. */
function healthcheckFlags(args: Args): Healthcheck | undefined {
  const cmd = stringOption(args, 'health-cmd');
  const timing = ['health-interval', 'health-timeout', 'health-start-period', 'health-retries'].filter((f) => stringOption(args, f) !== undefined);
  if (cmd === undefined) {
    if (timing.length > 0) throw usage(`--${timing[0]} needs --health-cmd`);
    return undefined;
  }
  if (cmd === '') throw usage('--health-cmd needs a command (or none)');
  const test = cmd === 'none' ? ['NONE'] : cmd.trimStart().startsWith('[') ? ['CMD', ...checked('health-cmd', () => parseCommand('health-cmd', cmd))] : ['CMD-SHELL', cmd];
  const h: Healthcheck = { test };
  const fields = [['health-interval', 'interval'], ['health-timeout', 'timeout'], ['health-start-period', 'startPeriod']] as const;
  for (const [f, k] of fields) {
    const v = stringOption(args, f);
    if (v !== undefined) h[k] = duration(f, v);
  }
  const retries = integerOption(args, 'health-retries', 0, 1_000_000, NAME);
  if (retries !== undefined) h.retries = retries;
  return h;
}

/**
 * The config flags that are Image options of the same meaning (docs/CLI.md): --expose, --volume,
 * --stop-signal, --annotation, --author, --created, --health-*. Each value is checked here with the
 * Image's own rules, so a bad one is a usage error naming the flag (exit 2) before anything is read.
 */
function configFlags(args: Args, spec: Omit<BuildSpec, 'output' | 'ociDir'>): void {
  const expose = listOption(args, 'expose');
  if (expose.length > 0) spec.exposedPorts = expose.map((p) => Object.keys(checked('expose', () => containerConfig(undefined, { exposedPorts: [p] })).ExposedPorts as object)[0]!);
  const volumes = listOption(args, 'volume');
  for (const v of volumes) checked('volume', () => containerConfig(undefined, { volumes: [v] }));
  if (volumes.length > 0) spec.volumes = volumes;
  const stopSignal = stringOption(args, 'stop-signal');
  if (stopSignal !== undefined) {
    checked('stop-signal', () => containerConfig(undefined, { stopSignal }));
    spec.stopSignal = stopSignal;
  }
  const annotations = pairsOption(args, 'annotation');
  if (annotations.length > 0) {
    if (stringOption(args, 'format') === 'docker') throw usage('--annotation needs --format oci: a Docker schema 2 manifest has no annotations');
    spec.annotations = annotations;
  }
  const author = stringOption(args, 'author');
  if (author !== undefined) spec.author = author;
  const created = stringOption(args, 'created');
  if (created !== undefined) {
    // Unix seconds or an RFC 3339 time with a zone, as --mtime takes them: without one it would be
    // the host's local time, and the image digest would depend on TZ.
    const value = /^[0-9]+$/.test(created) ? Number(created) : created;
    if (typeof value === 'string' && Number.isNaN(parseRfc3339(value))) throw usage(`--created must be Unix seconds, an RFC 3339 time with a zone (2024-01-31T00:00:00Z or +01:00) or a date (UTC), got "${created}"`);
    checked('created', () => resolveCreated(value));
    spec.created = value;
  }
  const healthcheck = healthcheckFlags(args);
  if (healthcheck !== undefined) spec.healthcheck = healthcheck;
}

/** The flags as buildImage's spec (outputs left out), every value checked: a bad one is exit 2. */
export function imageSpec(args: Args, layersGiven = true): Omit<BuildSpec, 'output' | 'ociDir'> {
  const layers = listOption(args, 'layer');
  const base = stringOption(args, 'base');
  if (layersGiven && layers.length === 0 && base === undefined) throw usage('give at least one --layer DIR[:DEST] or a --base');
  const keepWhiteoutFiles = flag(args, 'keep-whiteout-files');
  const spec: Omit<BuildSpec, 'output' | 'ociDir'> & Record<string, unknown> = { layers: layers.map((l) => checked('layer', () => layerArg(l, keepWhiteoutFiles))), tags: [] };
  if (keepWhiteoutFiles) spec['keepWhiteoutFiles'] = true;
  if (base !== undefined) spec.base = base;
  // A layout or archive holding several images: which one is the base (loadBase's `name`).
  const baseName = stringOption(args, 'base-name');
  if (baseName !== undefined) {
    if (base === undefined) throw usage('--base-name goes with --base');
    if (baseName === '') throw usage('--base-name needs a name (a tag or NAME:TAG listed in the base)');
    if (checked('base', () => resolveBaseSource(base)).kind === 'registry') throw usage(`--base-name is for a layout or archive base: ${base} names a registry image (its reference names the image)`);
    spec.baseOptions = { name: baseName };
  }
  for (const name of ['entrypoint', 'cmd'] as const) {
    const v = stringOption(args, name);
    if (v !== undefined) spec[name] = checked(name, () => parseCommand(name, v));
  }
  const env = pairsOption(args, 'env');
  if (env.length > 0) spec.env = env;
  const labels = pairsOption(args, 'label');
  if (labels.length > 0) spec.labels = labels;
  const workdir = stringOption(args, 'workdir');
  if (workdir !== undefined) spec.workdir = checked('workdir', () => containerConfig(undefined, { workdir }).WorkingDir as string);
  const user = stringOption(args, 'user');
  if (user !== undefined) spec.user = checked('user', () => containerConfig(undefined, { user }).User as string);
  configFlags(args, spec);
  const platform = stringOption(args, 'platform');
  if (platform !== undefined) {
    // A platform listed twice would make an index of two images for one platform: buildImage
    // refuses that too, but in the words of its own option ("images"), so the flag says it here.
    // One platform by the index's rule (platformKey): linux/arm and linux/arm/v7 are one.
    const seen = new Set<string>();
    for (const p of platform.split(',')) {
      const parsed = checked('platform', () => parsePlatform(p.trim()));
      if (seen.has(platformKey(parsed))) throw usage(`--platform lists ${formatPlatform(parsed)} twice: give each platform once`);
      seen.add(platformKey(parsed));
    }
    spec.platform = platform;
  }
  const format = choiceOption(args, 'format', ['oci', 'docker'] as const, NAME);
  if (format !== undefined) spec.format = format;
  // The directory layers' options, checked here with the layer command's rules (exit 2); the
  // Docker format's gzip-only rule is buildImage's (ERR_IMAGE_FORMAT).
  const layerOptions: NonNullable<BuildSpec['layerOptions']> = {};
  const compression = choiceOption(args, 'compression', LAYER_COMPRESSIONS, NAME);
  if (compression !== undefined) {
    // An eStargz blob is a gzip layer: Docker manifests list it like any other.
    if (format === 'docker' && compression !== 'gzip' && compression !== 'estargz') throw usage(`--format docker lists gzip layers only: --compression ${compression} needs --format oci`);
    layerOptions.compression = compression;
  }
  const estargz = estargzFlags(args, compression === 'estargz', NAME);
  if (estargz !== undefined) layerOptions.estargz = estargz;
  const level = levelOption(args, compression, NAME);
  if (level !== undefined) layerOptions.compressionLevel = level;
  // Every core by default, as `layer`: the process-wide thread budget (engine/budget.ts) shares them
  // among the layers compressed at once, so N layers never ask for N x cores.
  layerOptions.threads = integerOption(args, 'threads', 1, MAX_THREADS, NAME) ?? cliDefaultThreads();
  if (Object.keys(layerOptions).length > 0) spec.layerOptions = layerOptions;
  // Directory options, passed through as strings for buildImage, but checked here first with the
  // same parsers (keep|TIME|clamp:TIME, UID[:GID]|keep): a bad value is a usage error, as in `layer`.
  const exclude = listOption(args, 'exclude');
  if (exclude.some((p) => p === '')) throw usage('--exclude needs a non-empty pattern');
  if (exclude.length > 0) spec['exclude'] = exclude;
  const mtime = stringOption(args, 'mtime');
  if (mtime !== undefined) {
    checked('mtime', () => parseMtimeArg(mtime));
    spec['mtime'] = mtime;
  } else defaultMtimeArg(NAME); // buildImage applies it; a bad SOURCE_DATE_EPOCH is exit 2 here
  const owner = stringOption(args, 'owner');
  if (owner !== undefined) {
    checked('owner', () => parseOwnerArg(owner));
    spec['owner'] = owner;
  }
  // The layer cache is on by default (docs/IMAGES.md, "Layer cache": an entry is a fact about
  // fastlayer's bytes, and a push HEAD-checks every hit before it is used).
  const layerCacheDir = stringOption(args, 'layer-cache-dir');
  if (layerCacheDir === '') throw usage('--layer-cache-dir needs a directory');
  if (flag(args, 'no-layer-cache')) {
    if (layerCacheDir !== undefined || flag(args, 'layer-cache')) throw usage('--no-layer-cache excludes --layer-cache and --layer-cache-dir');
  } else spec.layerCache = layerCacheDir ?? true;
  const cacheRepo = stringOption(args, 'cache-repo');
  if (cacheRepo !== undefined) {
    const ref = checked('cache-repo', () => Reference.parse(cacheRepo));
    if (ref.digest !== undefined || ref.tag !== 'latest' || cacheRepo.endsWith(':latest')) throw usage('--cache-repo takes a repository, without a tag or digest (the cache has its own tag, fastlayer-layer-cache)');
    spec.cacheRepo = `${ref.registry}/${ref.repository}`;
  }
  // The SBOM's project is named, not guessed from the layers: a layer may be a subdirectory or a tar.
  const sbom = stringOption(args, 'sbom');
  if (sbom === '') throw usage('--sbom needs the Node project directory (holding package-lock.json)');
  if (sbom !== undefined) spec.sbom = sbom;
  return spec;
}

type Target = { kind: 'archive'; path: string } | { kind: 'oci-dir'; path: string } | { kind: 'registry'; ref: Reference };

function target(args: Args): Target {
  const output = stringOption(args, 'output');
  const ociDir = stringOption(args, 'oci-dir');
  const push = stringOption(args, 'push');
  const given = [output, ociDir, push].filter((v) => v !== undefined).length;
  if (given !== 1) throw usage(given === 0 ? 'say where the image goes: --output FILE.tar, --oci-dir DIR or --push NAME' : '--output, --oci-dir and --push exclude each other');
  if (output !== undefined) return { kind: 'archive', path: output };
  if (ociDir !== undefined) {
    if (ociDir === '') throw usage('--oci-dir needs a directory');
    return { kind: 'oci-dir', path: ociDir };
  }
  return { kind: 'registry', ref: checked('push', () => Reference.parse(push!)) };
}

/** Inputs an output must not land in: every layer directory, and a local base. Missing ones fail here, in one line. */
function inputGuards(spec: Omit<BuildSpec, 'output' | 'ociDir'>, base: ResolvedBase | undefined): Protected[] {
  const guards: Protected[] = [];
  const paths = spec.layers.map((l) => (typeof l === 'string' ? { dir: parseLayerArg(l).dir } : 'tar' in l ? { tar: l.tar } : { dir: l.dir }));
  for (const p of paths) {
    const input = openInput(p.dir ?? p.tar!);
    try {
      if (p.dir !== undefined && input.kind !== 'directory') throw new ErrCliInput(`--layer ${p.dir} is not a directory or a tar file`);
      if (p.tar !== undefined && input.kind !== 'file') throw new ErrCliInput(`--layer ${p.tar} is not a regular file`);
      guards.push(input.guard());
    } finally {
      input.close();
    }
  }
  if (base?.kind === 'local') guards.push(inputGuard(base.path));
  return guards;
}

/**
 * The cache writes its entries as the layers are made: inside a --layer directory they would become
 * part of that layer (and of its digest, a new one each run). Refused as --oci-dir is there, but as a
 * usage error: the flag's value is what is wrong, and nothing has been read yet.
 */
async function refuseCacheInside(dir: string, guards: readonly Protected[]): Promise<void> {
  try {
    await refuseDirectoryInside(dir, guards);
  } catch (err) {
    if (err instanceof ErrCliOutput) throw usage(`--layer-cache-dir: ${err.message}`);
    throw err;
  }
}

/** Whether `dir` (existing or not) is an input or lies inside an input directory. */
async function isInsideInput(dir: string, guards: readonly Protected[]): Promise<boolean> {
  try {
    await refuseDirectoryInside(dir, guards);
    return false;
  } catch (err) {
    if (err instanceof ErrCliOutput) return true;
    throw err;
  }
}

function blobLogger(board: ProgressBoard): (e: WriteProgress) => void {
  return (e) => {
    if (!board.enabled || e.type !== 'blob') return;
    board.log(`fastlayer: ${e.skipped ? 'kept' : 'wrote'} blob ${e.digest} (${e.size} bytes)\n`);
  };
}

/** The archive: the CLI's safe output (temp beside it, renamed at the end), or a stream buildImage stages. */
async function toArchive(spec: BuildSpec, path: string, guards: Protected[], context: Context): Promise<{ result: WriteResult; name: string }> {
  const output: Output = await openOutput(path, guards, context.signal);
  try {
    // A regular file: the archive writer builds it beside our temporary file and renames it over
    // that, and commit() renames the temporary file over the target. Anything else (stdout, a pipe,
    // a device) cannot be seeked back into: buildImage stages the archive and copies it there.
    const result = await writing(output.name, async () => {
      const r = output.file
        ? await writeInto(output.file.path, (path) => buildImage({ ...spec, output: path }))
        : await buildImage({ ...spec, output: output.stream as Writable });
      await output.commit();
      return r;
    });
    return { result, name: output.name };
  } catch (err) {
    await output.discard();
    throw err;
  }
}

/**
 * --push: the image streams straight into the registry (layers go into uploads as they are
 * compressed, known blobs are skipped after a HEAD); nothing is staged on disk. The registry
 * destination writes the tags only at commit, after every blob and manifest: an interrupted push
 * leaves no tag.
 */
async function toRegistry(spec: BuildSpec, ref: Reference, options: RegistryOptions, board: ProgressBoard): Promise<WriteResult> {
  const lines = new BlobLines(board, 'push');
  const destination = new RegistryDestination(ref, { ...options, onProgress: lines.onProgress });
  // The cache repository gets the command line's credentials only when it is in the push's registry.
  const { credentials, ...rest } = options;
  const cacheRepoOptions = spec.cacheRepo !== undefined && Reference.parse(spec.cacheRepo).registry === ref.registry && credentials !== undefined ? { ...rest, credentials } : rest;
  const onCacheError = (err: unknown): void => board.log(`fastlayer: warning: cache repository ${spec.cacheRepo}: ${(err as Error | undefined)?.message ?? String(err)}\n`);
  // The destination tags its reference and the --tag values (checked by pushTagNames in run). Its
  // events draw the blob lines; writeImage's (blob kept or written) would repeat them.
  return buildImage({ ...spec, destination, onProgress: lines.onWrite, ...(spec.cacheRepo === undefined ? {} : { cacheRepoOptions, onCacheError }) });
}


/** How another command builds its image through `image`'s flags and outputs (see `node`). */
export interface ImageRun {
  command: string;
  /** Turns the flags' spec (no layers) into the spec to build: adds the layers, config defaults. */
  prepare(spec: Omit<BuildSpec, 'output' | 'ociDir'>): Promise<Omit<BuildSpec, 'output' | 'ociDir'>>;
}

async function run(args: Args, context: Context): Promise<number> {
  if (args.positionals.length > 0) throw usage(`unexpected argument "${args.positionals[0]}" (directories go in --layer DIR)`);
  return runImage(args, context);
}

export async function runImage(args: Args, context: Context, how?: ImageRun): Promise<number> {
  if (how) NAME = how.command;
  const where = target(args);
  const spec = how ? await how.prepare(imageSpec(args, false)) : imageSpec(args);
  const tags = listOption(args, 'tag');
  if (tags.length === 0 && where.kind !== 'registry') throw usage('give at least one --tag NAME[:TAG]');
  if (spec.cacheRepo !== undefined && where.kind !== 'registry') throw usage('--cache-repo goes with --push (the cache names blobs in a registry)');
  if (where.kind === 'registry') pushTagNames(where.ref, tags, NAME);
  else for (const t of tags) checked('tag', () => Reference.parse(t));
  const json = flag(args, 'json');
  if (json && where.kind === 'archive') await refuseStdoutTwice('--output', where.path, 'the archive', NAME);
  // Which base: a prefix, else an existing path, else a reference (base-source.ts); neither is exit 2.
  const base = spec.base === undefined ? undefined : checked('base', () => resolveBaseSource(spec.base!));
  // The registry flags' values are checked whether or not a registry is involved (a bad --timeout is
  // exit 2 with --output too); the password on stdin is read only for a registry, below.
  const stdinTaken = base?.kind === 'local' && isStdinAlias(base.path);
  const registryFlags = checkRegistryFlags(args, NAME, stdinTaken);
  const guards = inputGuards(spec, base);
  if (typeof spec.layerCache === 'string') await refuseCacheInside(spec.layerCache, guards);
  // The default cache inside a --layer directory (--layer ~, --layer /) would put its entries into
  // that layer, a new digest each run: it is left off then, with a note, rather than refusing a
  // command that asked for nothing wrong.
  const cacheInInput = spec.layerCache === true && await isInsideInput(defaultLayerCacheDir(), guards);
  if (cacheInInput) spec.layerCache = false;
  // One set of registry flags for the push and a registry base. Credentials given on the command line
  // are the push registry's: a base in another registry gets none of them (its own come from the
  // Docker config), so a password never reaches a registry it was not given for.
  const wantsRegistry = where.kind === 'registry' || base?.kind === 'registry';
  const options = wantsRegistry ? await registryOptionsOf(registryFlags, NAME, context.signal) : undefined;
  const baseOptions: BuildSpec['baseOptions'] = { ...spec.baseOptions };
  if (base?.kind === 'registry' && options) {
    const foreign = where.kind === 'registry' && where.ref.registry !== base.reference.registry;
    const { credentials, ...rest } = options;
    baseOptions.registry = foreign || credentials === undefined ? rest : { ...rest, credentials };
  }
  const pipelineFiles = pipelinePaths(args, NAME, where.kind === 'archive' ? [where.path] : []);
  const pipeline = await PipelineOutputs.open(pipelineFiles, guards, context.signal);
  const board = progressBoard(args);
  if (cacheInInput) board.log(`fastlayer: note: the layer cache (${defaultLayerCacheDir()}) is inside an input; building without it (--layer-cache-dir DIR puts it elsewhere)\n`);
  const full: BuildSpec = {
    ...spec,
    ...(base?.kind === 'registry' ? { base: `docker://${base.reference.toString()}`, baseOptions } : {}),
    tags,
    signal: context.signal,
    onProgress: blobLogger(board),
    onSkip: (path: string, kind: string) => board.log(`fastlayer: skipping ${kind} ${path}\n`),
  } as BuildSpec;
  const { value: [result, written], seconds } = await reported(context, pipeline, board, async (): Promise<[WriteResult, Written]> => {
    let result: WriteResult;
    let written: Written;
    if (where.kind === 'archive') {
      const r = await toArchive(full, where.path, guards, context);
      result = r.result;
      written = { kind: 'archive', target: r.name };
    } else if (where.kind === 'oci-dir') {
      await refuseDirectoryInside(where.path, guards);
      result = await writing(where.path, () => buildImage({ ...full, ociDir: where.path }));
      written = { kind: 'oci-dir', target: where.path };
    } else {
      result = await toRegistry(full, where.ref, options!, board);
      written = { kind: 'registry', target: where.ref.toString() };
    }
    return [result, written];
  });
  await pipeline.commit({ digest: result.digest, names: result.names, metadata: resultJSON(result, written, seconds) });
  const onStdout = written.target === 'standard output';
  if (!(onStdout && flag(args, 'quiet'))) await printResult(result, written, seconds, json, onStdout);
  if (!json && !flag(args, 'quiet')) {
    await writeStderr(`fastlayer: ${NAME} ${result.digest} written to ${escapeControls(written.target)} in ${seconds.toFixed(2)} s\n`);
  }
  return 0;
}

export const imageCommand: Command = {
  name: NAME,
  usage: 'image --layer DIR[:DEST]|FILE.tar... [--base SRC] [config flags] --tag NAME[:TAG]... (--output FILE.tar|- | --oci-dir DIR | --push NAME)',
  description: [
    'Each --layer DIR is one layer (a deterministic tar of DIR, gzip-compressed, or zstd/none with',
    '--compression); DIR:/DEST puts it under /DEST in the image. --layer FILE.tar (or .tar.gz, .tar.zst,',
    'told by content) adds a tar made by another tool; a compressed one is reused as it is when its',
    'compression is the one asked for. --base takes an OCI layout directory, an OCI archive, a',
    'docker-save archive or a registry image (REG/REPO:TAG, REG/REPO@DIGEST): its config is inherited',
    'and its layers reused as they are (a registry base\'s layers are mounted or streamed, never',
    'downloaded first). docker://REF, oci-layout:DIR and archive:FILE say which; without a prefix an',
    'existing path wins, then a reference.',
    '',
    '--output writes one archive tar that docker load, podman load, ctr images import (k3d, k3s) and',
    'skopeo read; an existing file is replaced only by a complete archive; - is standard output (the',
    'archive is staged in a temporary file first). --oci-dir writes (or adds to) an OCI image layout.',
    '--push streams the image to a registry, nothing staged (NAME is the reference). With --push, a',
    '--tag is a bare tag of NAME\'s repository (--tag latest --tag v1.2.3) or a name in it; a name in',
    'another repository is refused before anything is written. Tags are written once everything is',
    'uploaded. Nothing may be written inside a --layer directory.',
    '',
    'Prints the names, digest, media type and size of the image, and its layers (or --json).',
  ].join('\n'),
  options: {
    layer: { type: 'string', multiple: true, value: 'DIR[:DEST]|FILE.tar', help: 'a directory layer, in order (DEST: where it goes in the image), or a tar file (.tar, .tar.gz, .tar.zst)' },
    base: { type: 'string', value: 'SRC', help: 'base image: OCI layout directory, OCI archive, docker-save archive or registry image (docker://REF, oci-layout:DIR, archive:FILE to be explicit)' },
    'base-name': { type: 'string', value: 'NAME', help: 'the image of a --base layout or archive that holds several (a tag, or NAME:TAG as listed there)' },
    entrypoint: { type: 'string', value: 'JSON|STRING', help: 'entrypoint: a JSON array, or one argument' },
    cmd: { type: 'string', value: 'JSON|STRING', help: 'command: a JSON array, or one argument' },
    env: { type: 'string', multiple: true, value: 'K=V', help: 'environment variable' },
    workdir: { type: 'string', value: 'DIR', help: 'working directory' },
    user: { type: 'string', value: 'USER', help: 'user[:group] to run as' },
    label: { type: 'string', multiple: true, value: 'K=V', help: 'label' },
    expose: { type: 'string', multiple: true, value: 'PORT[/PROTO]', help: 'exposed port, 1-65535; PROTO tcp (default), udp or sctp' },
    volume: { type: 'string', multiple: true, value: 'PATH', help: 'volume: an absolute container path' },
    'stop-signal': { type: 'string', value: 'SIG', help: 'signal that stops the container (SIGTERM, SIGINT, 15)' },
    annotation: { type: 'string', multiple: true, value: 'K=V', help: 'manifest annotation (and the index\'s, with several platforms); needs --format oci' },
    author: { type: 'string', value: 'AUTHOR', help: 'the config\'s author' },
    created: { type: 'string', value: 'TIME', help: 'the config\'s created time: Unix seconds, RFC 3339 with Z or an offset, or a date (UTC) (default: SOURCE_DATE_EPOCH, else 1970)' },
    'health-cmd': { type: 'string', value: 'JSON|STRING|none', help: 'healthcheck: a JSON array (exec form), a shell command, or none to turn the base\'s off' },
    'health-interval': { type: 'string', value: 'DURATION', help: 'time between healthchecks (30s, 1m30s)' },
    'health-timeout': { type: 'string', value: 'DURATION', help: 'time a healthcheck may take' },
    'health-start-period': { type: 'string', value: 'DURATION', help: 'start time before failed healthchecks count' },
    'health-retries': { type: 'string', value: 'N', help: 'failed healthchecks before unhealthy' },
    platform: { type: 'string', value: 'OS/ARCH[/VARIANT][,...]', help: 'platform (default: the base\'s, else linux/amd64); several make an index' },
    format: { type: 'string', value: 'oci|docker', help: 'manifest format (default oci)' },
    tag: { type: 'string', multiple: true, value: 'NAME[:TAG]|TAG', help: 'image name (app:1 is docker.io/library/app:1); with --push: a tag (latest) or a name in its repository' },
    output: { type: 'string', short: 'o', value: 'FILE.tar|-', help: 'write an image archive' },
    'oci-dir': { type: 'string', value: 'DIR', help: 'write an OCI image layout directory' },
    push: { type: 'string', value: 'NAME', help: 'push to a registry' },
    compression: { type: 'string', value: LAYER_COMPRESSIONS.join('|'), help: 'layer compression (default gzip); zstd and none need --format oci; estargz: gzip layers that stargz-snapshotter pulls lazily' },
    ...ESTARGZ_OPTIONS,
    level: { type: 'string', short: 'l', value: 'N', help: 'compression level: gzip 0-9 (default 1), zstd 1-19 (default 3)' },
    threads: { type: 'string', short: 't', value: 'N', help: `compress each layer on up to N threads, 1-${MAX_THREADS} (default: FASTLAYER_THREADS, else every CPU up to ${MAX_THREADS}, shared by the layers compressed at once; same bytes)` },
    exclude: { type: 'string', multiple: true, value: 'PATTERN', help: 'leave out paths matching PATTERN (.dockerignore syntax), every layer' },
    mtime: { type: 'string', value: 'keep|TIME|clamp:TIME', help: 'entry times of the directory layers (default: clamp to SOURCE_DATE_EPOCH when set, else 0); keep: the files\' own' },
    sbom: { type: 'string', value: 'DIR', help: 'attach an SPDX SBOM of the Node project DIR (its package-lock.json, v2 or v3) as an OCI referrer' },
    owner: { type: 'string', value: 'UID:GID', help: 'owner recorded in the directory layers (default 0:0)' },
    'keep-whiteout-files': { type: 'boolean', help: 'write entries named .wh.* in the directory layers (and a .wh.* DEST) as they are: whiteouts that delete paths of the layers below; refused by default' },
    'layer-cache': { type: 'boolean', help: 'remember layer digests (~/.cache/fastlayer/layers; the default): an unchanged --layer is not uploaded again' },
    'layer-cache-dir': { type: 'string', value: 'DIR', help: 'layer cache directory (default ~/.cache/fastlayer/layers)' },
    'no-layer-cache': { type: 'boolean', help: 'no layer cache: every directory layer is compressed and sent' },
    'cache-repo': { type: 'string', value: 'REG/REPO', help: `a layer cache shared through the registry (tag fastlayer-layer-cache), read before and merged after a --push` },
    ...REGISTRY_OPTIONS,
    ...PIPELINE_OPTIONS,
    ...REPORT_OPTIONS,
  },
  run,
};
