// `fastlayer pull NAME (--output FILE.tar | --oci-dir DIR)`: an image from a registry (one platform
// of an index) into an image archive or an OCI layout; every blob is checked against its digest while
// it streams, and the archive only appears, complete, at the end.
import { ArchiveWriter } from '../../archive/archive.js';
import { OciLayout } from '../../layout/layout.js';
import { parsePlatform } from '../../image/platform.js';
import { Reference } from '../../image/reference.js';
import type { Blob, Descriptor, Destination, ManifestBlob } from '../../image/types.js';
import { pullToDestination } from '../../registry/pull.js';
import { Transform } from 'node:stream';
import { REPORT_OPTIONS, progressBoard, stringOption, type Args, type Command, type Context } from '../command.js';
import { ErrCliUsage, writing } from '../errors.js';
import { isStdoutAlias, openOutput, type Output } from '../output.js';
import { writeInto } from '../archive-output.js';
import type { ProgressBoard } from '../progress.js';
import { REGISTRY_OPTIONS, registryOptions } from '../registry-flags.js';
import { reported, summary } from '../reported.js';
import { PIPELINE_OPTIONS, PipelineOutputs, pipelinePaths } from '../pipeline-outputs.js';

const NAME = 'pull';

/** Counts the bytes of each known blob as the destination reads it: one progress line per blob. */
export class Counted implements Destination {
  readonly concurrency: number;
  constructor(readonly inner: Destination, readonly board: ProgressBoard) {
    this.concurrency = inner.concurrency;
  }
  async has(d: Descriptor): Promise<boolean> {
    const found = await this.inner.has(d);
    // Already in the layout: not fetched, one line saying so rather than a transfer of 0 bytes.
    if (found) this.board.addSkipped(`pull ${d.digest.slice(7, 19)}`, d.size, 'exists');
    return found;
  }
  writeBlob(blob: Blob, signal?: AbortSignal): Promise<Descriptor> {
    if (blob.kind !== 'known' || !this.board.enabled) return this.inner.writeBlob(blob, signal);
    const line = this.board.addLine(`pull ${blob.descriptor.digest.slice(7, 19)}`, blob.descriptor.size);
    let done = 0;
    const open = () => {
      const counter = new Transform({
        transform(chunk: Buffer, _e, cb) {
          done += chunk.length;
          line.update(done);
          cb(null, chunk);
        },
      });
      const source = blob.open();
      source.on('error', (err) => counter.destroy(err));
      counter.on('close', () => source.destroy());
      return source.pipe(counter);
    };
    return this.inner.writeBlob({ ...blob, open }, signal).then(
      (d) => {
        line.finish(d.size);
        return d;
      },
      (err: unknown) => {
        line.fail('failed');
        throw err;
      },
    );
  }
  writeManifest(m: ManifestBlob, signal?: AbortSignal): Promise<void> {
    return this.inner.writeManifest(m, signal);
  }
  commit(top: ManifestBlob, names: readonly string[], signal?: AbortSignal): Promise<void> {
    return this.inner.commit(top, names, signal);
  }
  abort(reason: unknown): Promise<void> {
    return this.inner.abort(reason);
  }
}

async function run(args: Args, context: Context): Promise<number> {
  if (args.positionals.length !== 1) throw new ErrCliUsage(`expected one image NAME, got ${args.positionals.length}`, NAME);
  let ref: Reference;
  try {
    ref = Reference.parse(args.positionals[0]!);
  } catch (err) {
    throw new ErrCliUsage((err as Error).message, NAME);
  }
  const outputPath = stringOption(args, 'output');
  const ociDir = stringOption(args, 'oci-dir');
  if ((outputPath === undefined) === (ociDir === undefined)) throw new ErrCliUsage('give exactly one of --output FILE.tar and --oci-dir DIR', NAME);
  if (outputPath !== undefined && isStdoutAlias(outputPath)) throw new ErrCliUsage('--output needs a file: an archive is written back into as it grows', NAME);
  if (ociDir === '') throw new ErrCliUsage('--oci-dir needs a directory', NAME);
  const platformText = stringOption(args, 'platform');
  let platform;
  try {
    platform = platformText === undefined ? undefined : parsePlatform(platformText);
  } catch (err) {
    throw new ErrCliUsage(`--platform: ${(err as Error).message}`, NAME);
  }
  const pipelineFiles = pipelinePaths(args, NAME, outputPath === undefined ? [] : [outputPath]);
  const options = { ...(await registryOptions(args, NAME, context.signal)), ...(platform ? { platform } : {}) };
  const pipeline = await PipelineOutputs.open(pipelineFiles, [], context.signal);
  const board = progressBoard(args);
  let output: Output | undefined;
  const { value: manifest, seconds } = await reported(context, pipeline, board, async (): Promise<ManifestBlob> => {
    let manifest: ManifestBlob;
    if (outputPath !== undefined) {
      const opened = await openOutput(outputPath, [], context.signal);
      output = opened;
      if (!opened.file) throw new ErrCliUsage('--output needs a regular file: an archive is written back into as it grows', NAME);
      // The archive writer builds the archive beside our temporary file and renames it over it;
      // commit() then renames that over the target.
      const temp = opened.file.path;
      manifest = await writing(opened.name, async () => {
        const m = await writeInto(temp, (path) => pullToDestination(ref, new Counted(new ArchiveWriter(path), board), options));
        await opened.commit();
        return m;
      });
    } else {
      manifest = await writing(ociDir!, () => pullToDestination(ref, new Counted(new OciLayout(ociDir!), board), options));
    }
    return manifest;
  }, async () => { await output?.discard(); });
  const d = manifest.descriptor;
  const where = output?.name ?? ociDir!;
  const metadata = { name: ref.toString(), digest: d.digest, mediaType: d.mediaType, size: d.size, output: where, seconds };
  // The media type is the registry's text.
  const text = [`name: ${ref.toString()}`, `digest: ${d.digest}`, `mediaType: ${d.mediaType}`, `size: ${d.size}`];
  await summary(args, pipeline, { digest: d.digest, names: [ref.toString()], metadata }, text, `pulled ${ref.toString()} to ${where} in ${seconds.toFixed(2)} s`);
  return 0;
}

export const pullCommand: Command = {
  name: NAME,
  usage: 'pull NAME (--output FILE.tar | --oci-dir DIR) [options]',
  description: [
    'NAME is a reference (alpine, registry.example/team/app:1, app@sha256:...). From an index the image',
    'of --platform is taken (default: linux and this machine\'s architecture). Every blob is checked',
    'against its digest while it streams. An existing --output file is replaced only by a complete',
    'archive; --oci-dir creates a layout or adds to one.',
  ].join('\n'),
  options: {
    output: { type: 'string', short: 'o', value: 'FILE.tar', help: 'write an image archive' },
    'oci-dir': { type: 'string', value: 'DIR', help: 'write (or add to) an OCI image layout' },
    platform: { type: 'string', value: 'OS/ARCH[/VARIANT]', help: "the image to take from an index (default: linux and this machine's architecture)" },
    ...REGISTRY_OPTIONS,
    ...PIPELINE_OPTIONS,
    ...REPORT_OPTIONS,
  },
  run,
};
