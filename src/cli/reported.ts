// The frame shared by the commands that write an image (image, push, pull, copy): the progress board
// and the pipeline files around the work, then the summary. One place decides that a failed or
// interrupted run leaves no pipeline file behind and reports the interrupt rather than the error it
// caused inside the work.
import { flag, type Args, type Context } from './command.js';
import { escapeControls } from './escape.js';
import type { PipelineOutputs, PipelineResult } from './pipeline-outputs.js';
import type { ProgressBoard } from './progress.js';
import { writeStderr, writeStdout } from './stdio.js';

/**
 * Runs `work`, timing it. On a failure `cleanup` (the command's own partial output) and the pipeline
 * files are discarded; the board is closed either way.
 */
export async function reported<T>(context: Context, pipeline: PipelineOutputs, board: ProgressBoard, work: () => Promise<T>, cleanup?: () => Promise<void>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  try {
    const value = await work();
    return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } catch (err) {
    await cleanup?.();
    await pipeline.discard();
    if (context.signal.aborted) throw context.signal.reason;
    throw err;
  } finally {
    board.close();
  }
}

/**
 * Commits the pipeline files, then prints the --json document (`result.metadata`), else `lines` on
 * standard output and `note` on standard error unless --quiet. Both are escaped: they carry paths,
 * names and a registry's media type text.
 */
export async function summary(args: Args, pipeline: PipelineOutputs, result: PipelineResult, lines: readonly string[], note: string): Promise<void> {
  await pipeline.commit(result);
  if (flag(args, 'json')) {
    await writeStdout(`${JSON.stringify(result.metadata)}\n`);
    return;
  }
  await writeStdout(`${lines.map(escapeControls).join('\n')}\n`);
  if (!flag(args, 'quiet')) await writeStderr(`fastlayer: ${escapeControls(note)}\n`);
}
