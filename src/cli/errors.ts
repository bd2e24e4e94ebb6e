// Errors of the command line. Each carries a stable code and the exit status it ends the process
// with; main.ts prints any error as one line `fastlayer: ...` (describeError; the stack only with
// --debug, stackOf), its text escaped (escape.ts).
import { FastlayerError } from '../core/errors.js';
import { escapeControls, escapeLines } from './escape.js';

/** Exit statuses (documented in docs/CLI.md). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export abstract class CliError extends FastlayerError {
  abstract override readonly code: string;
  /** Status the process exits with. */
  readonly exitCode: number = EXIT_FAILURE;
  /** Printed as nothing at all (a reader of stdout that went away is not worth a message). */
  readonly quiet: boolean = false;
}

/** Bad command line: unknown command or flag, missing or invalid value. Exit status 2. */
export class ErrCliUsage extends CliError {
  readonly code = 'ERR_CLI_USAGE' as const;
  override readonly exitCode = EXIT_USAGE;
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'ErrCliUsage';
  }
}

/** An input cannot be read as asked (missing, a directory on stdin, a socket...). */
export class ErrCliInput extends CliError {
  readonly code = 'ERR_CLI_INPUT' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrCliInput';
  }
}

/** An output cannot be written, or writing it would destroy data (it is the input, or inside it). */
export class ErrCliOutput extends CliError {
  readonly code = 'ERR_CLI_OUTPUT' as const;
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ErrCliOutput';
  }
}

/** The reader of standard output closed it early (`| head`): ends the run quietly, status 1. */
export class ErrCliStdoutClosed extends CliError {
  readonly code = 'ERR_CLI_STDOUT_CLOSED' as const;
  override readonly quiet = true;
  constructor(cause?: unknown) {
    super('standard output was closed by its reader', cause === undefined ? undefined : { cause });
    this.name = 'ErrCliStdoutClosed';
  }
}

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** A signal (Ctrl-C) stopped the run; exit status 128 + the signal number (130 for SIGINT). */
export class ErrCliInterrupted extends CliError {
  readonly code = 'ERR_CLI_INTERRUPTED' as const;
  override readonly exitCode: number;
  constructor(readonly signal: string) {
    super(`interrupted (${signal})`);
    this.name = 'ErrCliInterrupted';
    this.exitCode = 128 + (SIGNAL_NUMBERS[signal] ?? 0);
  }
}

// System calls that only writing an output makes: reading an input (a layer directory, a source
// archive) never fails in one of them.
const WRITE_CALLS = new Set(['write', 'writev', 'pwrite', 'fsync', 'fdatasync', 'ftruncate', 'close', 'rename']);
// Errors that only a write can have, whatever the call (a full disk may refuse the open or the mkdir).
const WRITE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EROFS']);

/**
 * A system call's failure while writing the output `name` (a full disk, a file too large, an I/O
 * error) as an ErrCliOutput naming it; undefined for anything else, which is left as it is: a coded
 * error already says what failed, and a read or network failure is not the output's. `alsoCalls`:
 * calls that are writes for this output only (connect, for a socket output).
 */
export function writeFailure(err: unknown, name: string, alsoCalls: readonly string[] = []): ErrCliOutput | undefined {
  if (err instanceof FastlayerError || !(err instanceof Error)) return undefined;
  const { syscall, code } = err as NodeJS.ErrnoException;
  if (typeof syscall !== 'string') return undefined;
  if (!WRITE_CALLS.has(syscall) && !alsoCalls.includes(syscall) && !WRITE_CODES.has(code ?? '')) return undefined;
  return new ErrCliOutput(`cannot write ${name}: ${reason(err)}`, err);
}

/** Runs `work`, which writes the output `name`; a failed write becomes writeFailure's coded error. */
export async function writing<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw writeFailure(err, name) ?? err;
  }
}

/** "no such file or directory" out of Node's "ENOENT: no such file or directory, open '/x'". */
export function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    const m = /^[A-Z0-9_]+: (.*?), /.exec(e.message);
    if (m) return m[1]!;
  }
  // Left as it is: main.ts escapes the whole line it goes into, a newline (of a path) as \x0a.
  return e.message;
}

/**
 * The one line printed for an error. Its text may be a registry's or hold file names: escaped whole,
 * so a newline in a path prints as \x0a (docs/CLI.md, "Text from outside") and nothing after it can
 * pass for a line of its own. fastlayer's own messages are one line each.
 */
export function describeError(err: unknown): string {
  if (err instanceof ErrCliUsage) {
    return `fastlayer: ${escapeControls(err.message)} (see 'fastlayer help${err.command ? ` ${err.command}` : ''}')`;
  }
  if (err instanceof Error) return `fastlayer: ${escapeControls(err.message)}`;
  return `fastlayer: ${escapeControls(String(err))}`;
}

/** V8's first stack line before the message: `Name: ` or `TypeError [ERR_X]: `, one colon. */
const STACK_HEAD = /^[^:\n]*: $/;
/** A frame line of a V8 stack. */
const FRAME = /^ {4}at /;

/**
 * One error of the --debug stack: its `Name: message` line with the message escaped whole (a newline
 * in it is \x0a: it may hold a file name), then the stack's own frame lines, each escaped.
 */
function stackEntry(e: unknown): string {
  if (!(e instanceof Error)) return escapeControls(String(e));
  const { stack, message } = e;
  if (typeof stack !== 'string') return escapeControls(`${e.name}: ${message}`);
  let head: string;
  let frames: string;
  const at = message === '' ? -1 : stack.indexOf(message);
  if (message === '') {
    const nl = stack.indexOf('\n');
    [head, frames] = nl < 0 ? [stack, ''] : [stack.slice(0, nl), stack.slice(nl)];
  } else if (at >= 0 && STACK_HEAD.test(stack.slice(0, at))) {
    [head, frames] = [stack.slice(0, at + message.length), stack.slice(at + message.length)];
  } else {
    // The message was changed after the stack was taken: the frames are the stack's last lines that
    // are frames; everything before them is its first line, escaped whole.
    const lines = stack.split('\n');
    let first = lines.length;
    while (first > 1 && FRAME.test(lines[first - 1]!)) first--;
    [head, frames] = [lines.slice(0, first).join('\n'), lines.slice(first).map((l) => `\n${l}`).join('')];
  }
  return `${escapeControls(head)}${escapeLines(frames)}`;
}

/** --debug: each error of the cause chain (at most 8), its message on one line, then its frames. */
export function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(`${depth > 0 ? 'caused by: ' : ''}${stackEntry(e)}`);
    if (!(e instanceof Error)) break;
  }
  return `${parts.join('\n')}\n`;
}
