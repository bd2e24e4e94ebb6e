// `fastlayer push SRC NAME`: an OCI layout directory or an image archive (fastlayer's, docker save
// since Docker 25, skopeo's oci-archive) to a registry. Blobs are known: HEAD first, skipped when
// present; the tag is written last, and not at all when the push fails or is interrupted.
import { statSync } from 'node:fs';
import { Reference } from '../../image/reference.js';
import { pushArchive, pushLayout } from '../../registry/layout.js';
import { REPORT_OPTIONS, listOption, progressBoard, stringOption, type Args, type Command, type Context } from '../command.js';
import { ErrCliInput, ErrCliUsage, reason } from '../errors.js';
import { pushTagNames } from '../push-tags.js';
import { BlobLines, REGISTRY_OPTIONS, registryOptions } from '../registry-flags.js';
import { inputGuard } from '../input.js';
import { reported, summary } from '../reported.js';
import { PIPELINE_OPTIONS, PipelineOutputs, pipelinePaths } from '../pipeline-outputs.js';

const NAME = 'push';

async function run(args: Args, context: Context): Promise<number> {
  if (args.positionals.length !== 2) throw new ErrCliUsage(`expected SRC and NAME, got ${args.positionals.length} argument${args.positionals.length === 1 ? '' : 's'}`, NAME);
  const [src, name] = args.positionals as [string, string];
  let ref: Reference;
  try {
    ref = Reference.parse(name);
  } catch (err) {
    throw new ErrCliUsage((err as Error).message, NAME);
  }
  // Every --tag checked before credentials are read or SRC is opened: a bad one is exit 2.
  const tags = listOption(args, 'tag');
  const names = pushTagNames(ref, tags, NAME);
  const pipelineFiles = pipelinePaths(args, NAME);
  const options = await registryOptions(args, NAME, context.signal);
  const image = stringOption(args, 'name');
  let st;
  try {
    st = statSync(src);
  } catch (err) {
    throw new ErrCliInput(`cannot read ${src}: ${reason(err)}`, err);
  }
  if (!st.isDirectory() && !st.isFile()) throw new ErrCliInput(`cannot push ${src}: it is neither an OCI layout directory nor an archive file`);
  // SRC is an input: no pipeline file may replace the archive or land in the layout directory.
  const pipeline = await PipelineOutputs.open(pipelineFiles, [inputGuard(src)], context.signal);
  const board = progressBoard(args);
  const lines = new BlobLines(board, 'push');
  const { value: descriptor, seconds } = await reported(context, pipeline, board, () => {
    const o = { ...options, names: tags, onProgress: lines.onProgress, ...(image === undefined ? {} : { name: image }) };
    return st.isDirectory() ? pushLayout(src, ref, o) : pushArchive(src, ref, o);
  });
  // `names`: every name tagged (the push succeeded, so each tag's manifest PUT did); `name` is NAME.
  const out = { name: ref.toString(), names, digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size };
  const metadata = { ...out, source: src, seconds };
  // The media type is the layout's or archive's text, the source a path.
  const text = [...(names.length > 0 ? names : [out.name]).map((n) => `name: ${n}`), `digest: ${out.digest}`, `mediaType: ${out.mediaType}`, `size: ${out.size}`];
  await summary(args, pipeline, { digest: out.digest, names: names.length > 0 ? names : [out.name], metadata }, text, `pushed ${src} to ${out.name} in ${seconds.toFixed(2)} s`);
  return 0;
}

export const pushCommand: Command = {
  name: NAME,
  usage: 'push SRC NAME [--tag TAG]... [options]',
  description: [
    'SRC is an OCI image layout directory, or a tar archive holding one (fastlayer image --output,',
    'docker save since Docker 25, skopeo oci-archive). When its index.json lists several images,',
    '--name (or the tag of NAME) picks the one whose org.opencontainers.image.ref.name matches.',
    'Blobs the registry already holds are not uploaded again. --tag adds tags in NAME\'s repository: a',
    'bare tag (--tag latest --tag v1.2.3) or a name in it; a name in another repository is refused',
    'before anything is read or written. The tags are written last: a failed or interrupted push',
    'leaves none.',
  ].join('\n'),
  options: {
    name: { type: 'string', value: 'REF', help: 'which image of SRC (its ref.name annotation) when there are several' },
    tag: { type: 'string', multiple: true, value: 'TAG|NAME', help: 'another tag: a bare tag (latest) or a name in NAME\'s repository' },
    ...REGISTRY_OPTIONS,
    ...PIPELINE_OPTIONS,
    ...REPORT_OPTIONS,
  },
  run,
};
