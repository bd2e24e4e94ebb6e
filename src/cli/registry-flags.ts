// What the registry commands share: --insecure, --timeout, --creds or --username with --password-stdin, and per-blob progress lines fed by the
// registry's progress events. Credentials are passed to the registry API only: never printed, never
// put in an error message (the registry errors quote neither them nor Authorization headers).
import type { OptionTable, Args } from './command.js';
import { flag, stringOption } from './command.js';
import { ErrCliUsage } from './errors.js';
import type { ProgressBoard, ProgressLine } from './progress.js';
import type { RegistryOptions } from '../registry/client.js';
import type { ProgressEvent } from '../registry/destination.js';
import type { WriteProgress } from '../image/write.js';

export const REGISTRY_OPTIONS: OptionTable = {
  insecure: { type: 'boolean', help: 'plain http to the registry (always for localhost and 127.0.0.1)' },
  creds: {
    type: 'string',
    value: 'USER:PASSWORD',
    help: 'registry credentials (default: ~/.docker/config.json or $DOCKER_CONFIG; the password may contain ":"; visible in ps: prefer --password-stdin)',
  },
  username: { type: 'string', value: 'USER', help: 'registry user name, with --password-stdin' },
  'password-stdin': { type: 'boolean', help: 'read the registry password from standard input (one line), as docker login does' },
  timeout: {
    type: 'string',
    value: 'SECONDS',
    help: 'give up on a registry request that gets no response headers, or moves no body byte, for this long (default: 30 s for headers, 60 s idle; retried like a dropped connection)',
  },
};

/** --timeout's largest value: a day. */
const MAX_TIMEOUT_SECONDS = 86_400;

/** --timeout SECONDS (decimals allowed) in ms, or a usage error naming the flag. */
function timeoutOption(args: Args, command: string): number | undefined {
  const v = stringOption(args, 'timeout');
  if (v === undefined) return undefined;
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(v) ? Number(v) : NaN;
  if (!(seconds * 1000 >= 1) || seconds > MAX_TIMEOUT_SECONDS) {
    throw new ErrCliUsage(`--timeout must be a number of seconds from 0.001 to ${MAX_TIMEOUT_SECONDS}, got "${v}"`, command);
  }
  return Math.round(seconds * 1000);
}

/** A password on stdin is one line at most this long; more is not a password. */
const MAX_PASSWORD_BYTES = 64 * 1024;

async function readPassword(command: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_PASSWORD_BYTES) throw new ErrCliUsage(`--password-stdin: standard input holds more than ${MAX_PASSWORD_BYTES} bytes`, command);
    chunks.push(chunk);
  }
  // The newline of `echo` or of a file ends the password, as with docker login --password-stdin.
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new ErrCliUsage('--password-stdin: standard input is empty', command);
  if (/[\r\n]/.test(password)) throw new ErrCliUsage('--password-stdin: standard input holds more than one line', command);
  return password;
}

/** The registry flags, checked: everything registryOptions needs except a password still on stdin. */
export interface RegistryFlags {
  insecure: boolean;
  /** --timeout, in ms. */
  timeout?: number;
  /** --creds. */
  credentials?: { username: string; password: string };
  /** --username with --password-stdin: the password is read from standard input when a registry is used. */
  stdinUser?: string;
}

/**
 * Checks the values of the registry flags (--timeout, --creds, --username, --password-stdin) and how
 * they go together: a usage error naming the flag, or what registryOptions will use. Reads nothing:
 * every command that declares the flags calls it before anything is read or written, whether or not
 * a registry turns out to be involved (`image --output` with a local base uses none). `stdinTaken`: the
 * command reads its input from standard input, so --password-stdin cannot.
 */
export function checkRegistryFlags(args: Args, command: string, stdinTaken = false): RegistryFlags {
  const flags: RegistryFlags = { insecure: flag(args, 'insecure') };
  const timeout = timeoutOption(args, command);
  if (timeout !== undefined) flags.timeout = timeout;
  const creds = stringOption(args, 'creds');
  const username = stringOption(args, 'username');
  const fromStdin = flag(args, 'password-stdin');
  if (creds !== undefined && (username !== undefined || fromStdin)) {
    throw new ErrCliUsage('give --creds or --username with --password-stdin, not both', command);
  }
  if (creds !== undefined) {
    const colon = creds.indexOf(':');
    // The value is never quoted back: it holds a password.
    if (colon <= 0) throw new ErrCliUsage('--creds must be USER:PASSWORD', command);
    flags.credentials = { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
  } else if (fromStdin || username !== undefined) {
    if (!fromStdin) throw new ErrCliUsage('--username goes with --password-stdin (or use --creds USER:PASSWORD)', command);
    if (username === undefined || username === '') throw new ErrCliUsage('--password-stdin needs --username', command);
    if (stdinTaken) throw new ErrCliUsage('--password-stdin: standard input is already the input of this command', command);
    flags.stdinUser = username;
  }
  return flags;
}

/**
 * The RegistryOptions of --insecure and the credentials flags (the Docker config is read by the
 * registry API when none is given), checked by checkRegistryFlags; with --password-stdin the password
 * is read here, so only a command that uses a registry reads it.
 */
export async function registryOptions(args: Args, command: string, signal: AbortSignal, stdinTaken = false): Promise<RegistryOptions> {
  return registryOptionsOf(checkRegistryFlags(args, command, stdinTaken), command, signal);
}

/** registryOptions of flags checkRegistryFlags already gave (a command that checked them up front). */
export async function registryOptionsOf(flags: RegistryFlags, command: string, signal: AbortSignal): Promise<RegistryOptions> {
  const options: RegistryOptions = { signal };
  if (flags.insecure) options.insecure = true;
  if (flags.timeout !== undefined) options.timeout = flags.timeout;
  if (flags.credentials !== undefined) options.credentials = flags.credentials;
  else if (flags.stdinUser !== undefined) options.credentials = { username: flags.stdinUser, password: await readPassword(command) };
  return options;
}

function short(digest: string | undefined): string {
  return digest === undefined ? '' : digest.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * One progress line per blob: `onProgress` takes the registry destination's events (bytes as they
 * are sent), `onWrite` writeImage's (blobs found in the registry and skipped).
 */
export class BlobLines {
  readonly #board: ProgressBoard;
  readonly #verb: string;
  readonly #byId = new Map<number, ProgressLine>();
  readonly #seen = new Set<string>();

  constructor(board: ProgressBoard, verb: string) {
    this.#board = board;
    this.#verb = verb;
  }

  readonly onProgress = (e: ProgressEvent): void => {
    if (!this.#board.enabled) return;
    if (e.digest !== undefined) this.#seen.add(e.digest);
    let line = this.#byId.get(e.id);
    const skipped = e.state === 'exists' || e.state === 'mounted';
    if (!line && skipped) {
      // Found by HEAD or mounted from another repository: one line, no bytes or speed to show.
      this.#board.addSkipped(`${this.#verb} ${short(e.digest)}`, e.total, e.state);
      return;
    }
    if (!line) {
      // A streaming layer's digest exists only at its end: its label (place and directory) names it.
      const label = e.digest !== undefined ? `${this.#verb} ${short(e.digest)}` : `${this.#verb} ${e.label ?? `layer ${e.id} (streaming)`}`;
      line = this.#board.addLine(label, e.total);
      this.#byId.set(e.id, line);
    }
    if (skipped) line.skip(e.state);
    else if (e.state === 'done') line.finish(e.bytes);
    else line.update(e.bytes);
  };

  readonly onWrite = (e: WriteProgress): void => {
    if (!this.#board.enabled || e.type !== 'blob' || !e.skipped || this.#seen.has(e.digest)) return;
    this.#seen.add(e.digest);
    this.#board.addSkipped(`${this.#verb} ${short(e.digest)}`, e.size, 'exists');
  };
}
