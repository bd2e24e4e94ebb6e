// Files for the next step of a CI pipeline: --digest-file (the top manifest or index digest),
// --image-refs (NAME@DIGEST lines) and --metadata-file (the --json document). They are opened (as
// temporary files beside their targets, see output.ts) before the command does its work, so a path
// that cannot be written fails it before anything is pushed; they are filled and renamed into place
// only once the command has succeeded, so a failed run leaves an earlier file as it was.
// An existing symbolic link is followed as cp follows it (the file it names is replaced, the link
// stays); a link to a missing file is refused (openOutput), never created through.
import { resolve } from 'node:path';
import { Reference } from '../image/reference.js';
import { stringOption, type Args, type OptionTable } from './command.js';
import { ErrCliUsage } from './errors.js';
import { isDescriptorAlias, isStdoutAlias, openOutput, type Output, type Protected } from './output.js';

export const PIPELINE_OPTIONS: OptionTable = {
  'digest-file': { type: 'string', value: 'FILE', help: 'on success, write the digest of the image (or index) to FILE' },
  'image-refs': { type: 'string', value: 'FILE', help: 'on success, write NAME@DIGEST to FILE, one line per repository written' },
  'metadata-file': { type: 'string', value: 'FILE', help: 'on success, write the --json document to FILE' },
};

const FLAGS = ['digest-file', 'image-refs', 'metadata-file'] as const;
type Flag = (typeof FLAGS)[number];

/**
 * The pipeline files a command was asked for, checked as usage (exit 2): not empty, not a standard
 * stream (--json is for standard output), not the same file twice, not one of `taken` (the image's
 * own output path).
 */
export function pipelinePaths(args: Args, command: string, taken: readonly string[] = []): Partial<Record<Flag, string>> {
  const paths: Partial<Record<Flag, string>> = {};
  const seen = new Map<string, string>(taken.map((p) => [resolve(p), 'the image output']));
  for (const name of FLAGS) {
    const path = stringOption(args, name);
    if (path === undefined) continue;
    if (path === '') throw new ErrCliUsage(`--${name} needs a file`, command);
    // These files are for other steps, not the log: no standard stream, nor any other descriptor (a
    // link chain to one is refused when the file is opened).
    if (isStdoutAlias(path) || isDescriptorAlias(path)) throw new ErrCliUsage(`--${name} needs a file, not standard output, error or another descriptor (use --json for standard output)`, command);
    const other = seen.get(resolve(path));
    if (other !== undefined) throw new ErrCliUsage(`--${name} names the same file as ${other}`, command);
    seen.set(resolve(path), `--${name}`);
    paths[name] = path;
  }
  return paths;
}

/** What the files hold once the command succeeded. */
export interface PipelineResult {
  /** The top manifest or index digest. */
  digest: string;
  /** Fully qualified names written (tags); each gives one NAME@DIGEST line per repository. */
  names: readonly string[];
  /** The document --json prints. */
  metadata: unknown;
}

/** `repo@digest` per repository of `names`, in their order: a digest reference without the tag,
 * because containers/image (skopeo, podman) refuses a reference with both. */
export function imageRefs(names: readonly string[], digest: string): string {
  const repos = [...new Set(names.map((n) => Reference.parse(n).name))];
  return repos.map((r) => `${r}@${digest}\n`).join('');
}

export class PipelineOutputs {
  readonly #outputs: [Flag, Output][];

  private constructor(outputs: [Flag, Output][]) {
    this.#outputs = outputs;
  }

  /** Opens every file asked for; none is opened when one fails (the opened ones are discarded). */
  static async open(paths: Partial<Record<Flag, string>>, guards: readonly Protected[], signal: AbortSignal): Promise<PipelineOutputs> {
    const opened: [Flag, Output][] = [];
    try {
      for (const name of FLAGS) {
        const path = paths[name];
        if (path !== undefined) opened.push([name, await openOutput(path, guards, signal)]);
      }
    } catch (err) {
      await Promise.all(opened.map(([, o]) => o.discard()));
      throw err;
    }
    return new PipelineOutputs(opened);
  }

  /** Writes each file and renames it into place; on a failure the ones not yet renamed are discarded. */
  async commit(result: PipelineResult): Promise<void> {
    try {
      for (const [name, output] of this.#outputs) {
        const text =
          name === 'digest-file' ? `${result.digest}\n`
          : name === 'image-refs' ? imageRefs(result.names, result.digest)
          : `${JSON.stringify(result.metadata)}\n`;
        output.stream.end(text);
        await output.commit();
      }
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  /** Leaves every target as it was (only the temporary files are removed). Safe after commit. */
  async discard(): Promise<void> {
    await Promise.all(this.#outputs.map(([, o]) => o.discard()));
  }
}
