// Errors of the command line. Each carries a stable code and the exit status it ends the process
// with; main.ts prints any error as one line `fastlayer: ...` (the stack only with --debug).
import { FastlayerError } from '../core/errors.js';

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
  return oneLine(e.message);
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
