// Standard output and error as the commands use them. Every write waits for its callback, so a
// failing stdout (`>/dev/full`, a reader that went away) surfaces as one coded error where it
// happened instead of an unhandled 'error' event, and nothing is lost when the process exits.
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ErrCliOutput, ErrCliStdoutClosed, reason } from './errors.js';

function ignore(): void {}

/** Called once at start: stream errors are handled at each write, never as process crashes. */
export function installStdio(): void {
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
}

/** The error a failed write to stdout becomes: quiet for a closed pipe, one line otherwise. */
export function stdoutError(err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET') return new ErrCliStdoutClosed(err);
  return new ErrCliOutput(`cannot write to standard output: ${reason(err)}`, err);
}

function write(stream: NodeJS.WriteStream, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

export async function writeStdout(data: string | Uint8Array): Promise<void> {
  try {
    await write(process.stdout, data);
  } catch (err) {
    throw stdoutError(err);
  }
}

/** stderr is best effort: a closed or failing stderr must not turn a success into a failure. */
export function writeStderr(text: string): Promise<void> {
  return write(process.stderr, text).catch(ignore);
}

/**
 * A Writable that forwards to process.stdout without ever ending it (stdout stays usable and open)
 * and completes each write only once stdout has taken it.
 */
export function stdoutSink(): Writable {
  return new Writable({
    highWaterMark: 1024 * 1024,
    write(chunk: Buffer, _encoding, done) {
      process.stdout.write(chunk, (err) => done(err ? stdoutError(err) : undefined));
    },
  });
}

/**
 * Ends a stdoutSink (if its writer has not) and resolves once every write it took has been taken by
 * stdout in turn, so the process may exit without losing any; a failed write rejects, coded.
 */
export async function drainSink(sink: Writable): Promise<void> {
  if (!sink.writableEnded) sink.end();
  await finished(sink, { readable: false });
}
