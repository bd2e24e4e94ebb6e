// `fastlayer copy SRC DST`: an image or index from a registry, an OCI layout or an archive into any of
// the three (crane copy, skopeo copy). registry/copy.ts does the work; this reads the flags, keeps
// each registry's credentials to that registry, and makes an archive appear only when complete.
import { resolve } from 'node:path';
import { ArchiveWriter } from '../../archive/archive.js';
import { OciLayout } from '../../layout/layout.js';
import { copyImage, localNames, platforms, parseCopyEndpoint, type CopyEndpoint, type CopyOptions, type CopyResult } from '../../registry/copy.js';
import type { Credentials } from '../../registry/credentials.js';
import { REPORT_OPTIONS, listOption, progressBoard, stringOption, type Args, type Command, type Context } from '../command.js';
import { ErrCliUsage, writing } from '../errors.js';
import { inputGuard } from '../input.js';
import { isStdoutAlias, openOutput, type Output } from '../output.js';
import { writeInto } from '../archive-output.js';
import { pushTagNames } from '../push-tags.js';
import { BlobLines, REGISTRY_OPTIONS, checkRegistryFlags, registryOptionsOf } from '../registry-flags.js';
import { reported, summary } from '../reported.js';
import { PIPELINE_OPTIONS, PipelineOutputs, pipelinePaths } from '../pipeline-outputs.js';
import { Counted } from './pull.js';

const NAME = 'copy';

function endpoint(value: string, side: 'source' | 'destination'): CopyEndpoint {
  try {
    return parseCopyEndpoint(value, side);
  } catch (err) {
    throw new ErrCliUsage(`${side} ${value}: ${(err as Error).message}`, NAME);
  }
}

/** --src-creds USER:PASSWORD, parsed as --creds is; the value is never quoted back. */
function sourceCredentials(args: Args): Credentials | undefined {
  const v = stringOption(args, 'src-creds');
  if (v === undefined) return undefined;
  const colon = v.indexOf(':');
  if (colon <= 0) throw new ErrCliUsage('--src-creds must be USER:PASSWORD', NAME);
  return { username: v.slice(0, colon), password: v.slice(colon + 1) };
}

function describe(e: CopyEndpoint): string {
  return e.kind === 'registry' ? e.reference.toString() : e.path;
}

async function run(args: Args, context: Context): Promise<number> {
  if (args.positionals.length !== 2) throw new ErrCliUsage(`expected SRC and DST, got ${args.positionals.length} argument${args.positionals.length === 1 ? '' : 's'}`, NAME);
  const from = endpoint(args.positionals[0]!, 'source');
  const to = endpoint(args.positionals[1]!, 'destination');
  const platform = stringOption(args, 'platform');
  if (platform === '') throw new ErrCliUsage('--platform needs all or OS/ARCH[/VARIANT][,...]', NAME);
  try {
    if (platform !== undefined) platforms(platform);
  } catch (err) {
    throw new ErrCliUsage(`--platform: ${(err as Error).message}`, NAME);
  }
  const tags = listOption(args, 'tag');
  // Every --tag checked before credentials are read or SRC is opened: a bad one is exit 2.
  let names: string[];
  try {
    names = to.kind === 'registry' ? pushTagNames(to.reference, tags, NAME) : localNames(from, to, tags);
  } catch (err) {
    if (err instanceof ErrCliUsage) throw err;
    throw new ErrCliUsage(`--tag: ${(err as Error).message}`, NAME);
  }
  if (from.kind === 'archive' && to.kind === 'archive' && resolve(from.path) === resolve(to.path)) throw new ErrCliUsage('SRC and DST are the same archive', NAME);
  const archivePath = to.kind === 'archive' ? to.path : undefined;
  if (archivePath !== undefined && isStdoutAlias(archivePath)) throw new ErrCliUsage('DST needs a file: an archive is written back into as it grows', NAME);
  const pipelineFiles = pipelinePaths(args, NAME, archivePath === undefined ? [] : [archivePath]);
  const srcCreds = sourceCredentials(args);
  // The flags are checked either way; a password on stdin is read only when a registry is involved.
  const flags = checkRegistryFlags(args, NAME);
  const registry = from.kind === 'registry' || to.kind === 'registry' ? await registryOptionsOf(flags, NAME, context.signal) : {};
  // Into a layout or archive the only registry is SRC's: --creds are for it (as for pull).
  const sourceCreds = srcCreds ?? (to.kind === 'registry' ? undefined : registry.credentials);
  const options: CopyOptions = { ...registry, ...(sourceCreds ? { sourceCredentials: sourceCreds } : {}), ...(platform === undefined ? {} : { platform }) };
  // A local SRC (an archive, a layout directory) is an input: no output may replace it or land in it.
  const guards = from.kind === 'registry' ? [] : [inputGuard(from.path)];
  const pipeline = await PipelineOutputs.open(pipelineFiles, guards, context.signal);
  const board = progressBoard(args);
  let output: Output | undefined;
  const { value: result, seconds } = await reported(context, pipeline, board, async (): Promise<CopyResult> => {
    let result: CopyResult;
    if (to.kind === 'registry') {
      result = await copyImage(from, to, { ...options, names: tags, onProgress: new BlobLines(board, NAME).onProgress });
    } else if (to.kind === 'archive') {
      const opened = await openOutput(to.path, guards, context.signal);
      output = opened;
      if (!opened.file) throw new ErrCliUsage('DST needs a regular file: an archive is written back into as it grows', NAME);
      const temp = opened.file.path;
      result = await writing(opened.name, async () => {
        const r = await writeInto(temp, (path) => copyImage(from, new Counted(new ArchiveWriter(path), board), { ...options, names }));
        await opened.commit();
        return r;
      });
    } else {
      result = await writing(to.path, () => copyImage(from, new Counted(new OciLayout(to.path), board), { ...options, names }));
    }
    return result;
  }, async () => { await output?.discard(); });
  const d = result.descriptor;
  const target = to.kind === 'archive' ? output?.name ?? to.path : describe(to);
  const metadata = { source: describe(from), destination: target, names: result.names, digest: d.digest, mediaType: d.mediaType, size: d.size, seconds };
  // --image-refs: one line per repository written; a layout or archive has none unless names were given.
  const refNames = result.names.length > 0 ? result.names : to.kind === 'registry' ? [to.reference.toString()] : [];
  const text = [...refNames.map((n) => `name: ${n}`), `digest: ${d.digest}`, `mediaType: ${d.mediaType}`, `size: ${d.size}`];
  await summary(args, pipeline, { digest: d.digest, names: refNames, metadata }, text, `copied ${describe(from)} to ${target} in ${seconds.toFixed(2)} s`);
  return 0;
}

export const copyCommand: Command = {
  name: NAME,
  usage: 'copy SRC DST [--platform all|OS/ARCH[,...]] [--tag TAG]... [options]',
  description: [
    'SRC and DST are each a registry image (REG/repo:tag, REG/repo@sha256:..., docker://REF), an OCI',
    'layout (oci-layout:DIR[:TAG], or an existing directory) or an archive (archive:FILE, or an existing',
    'file). Without a prefix, a path that does not exist is a path all the same when it starts with /,',
    './, ../ or ~/ or ends in .tar (a DST ending in .tar is an archive, any other a layout directory).',
    'Every blob is checked against its digest while it streams; manifests are copied byte for byte.',
    'Within one registry, blobs are mounted or found, never downloaded. A registry DST is tagged last;',
    'an archive DST appears only complete. --platform: all (default) copies a whole index; one',
    'platform copies that image; several copy a new index of only those (a new digest).',
    '--creds/--username apply to DST (and to SRC only in the same registry, or when DST is a layout',
    'or archive); a SRC in another registry uses the Docker config, or --src-creds.',
  ].join('\n'),
  options: {
    platform: { type: 'string', value: 'all|OS/ARCH[/VARIANT][,...]', help: 'which images of an index (default all: the index as it is)' },
    tag: { type: 'string', multiple: true, value: 'TAG|NAME', help: "another tag in DST's repository (a layout or archive DST: a name written into it)" },
    'src-creds': { type: 'string', value: 'USER:PASSWORD', help: "SRC registry's credentials when it is not DST's registry (default: the Docker config)" },
    ...REGISTRY_OPTIONS,
    ...PIPELINE_OPTIONS,
    ...REPORT_OPTIONS,
  },
  run,
};
