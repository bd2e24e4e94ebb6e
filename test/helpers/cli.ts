// Running the built fastlayer bin (dist/cli/main.js) as a child process.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions, type StdioOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The bin shows plain progress lines on a non-terminal when CI is set (a CI log). The tests read its
// standard error and expect the default of a redirected stderr outside CI, so CI is removed here, for
// every test file that runs the bin (children inherit this environment); the tests of the CI default
// set it in the child's environment themselves.
delete process.env['CI'];

// The bin's layer cache is on by default: without this every test run would fill the user's
// ~/.cache/fastlayer/layers, and a hit left by an earlier run could hide an upload a test counts. One
// cache directory per test process (children inherit it), removed when the process exits; tests of
// the cache itself set XDG_CACHE_HOME in the child's environment.
const testCache = mkdtempSync(join(tmpdir(), 'fastlayer-test-cache-'));
process.env['XDG_CACHE_HOME'] = testCache;
process.on('exit', () => rmSync(testCache, { recursive: true, force: true }));

/** The bin as package.json declares it; `npm run build:ts` (part of `npm test`) builds it. */
export const BIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

export function binMissing(): string | undefined {
  return existsSync(BIN) ? undefined : `needs the built bin ${BIN} (npm run build:ts)`;
}

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export function runCli(args: string[], options: { input?: Buffer; stdio?: StdioOptions; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Result {
  const o: SpawnSyncOptions = { encoding: 'buffer', timeout: 120_000, maxBuffer: 512 * 1024 * 1024 };
  if (options.input) o.input = options.input;
  if (options.stdio) o.stdio = options.stdio;
  if (options.cwd) o.cwd = options.cwd;
  if (options.env) o.env = options.env;
  const r = spawnSync(process.execPath, [BIN, ...args], o);
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: (r.stdout as Buffer | null) ?? Buffer.alloc(0), stderr: ((r.stderr as Buffer | null) ?? '').toString() };
}

export interface AsyncRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface AsyncRunOptions {
  /** Killed (SIGKILL) after this long; default: never. */
  timeoutMs?: number;
  /** Written to its standard input, then closed; without it standard input is ignored. */
  input?: string;
  /** Called with the child once it was spawned (to signal it midway, say). */
  onStart?: (child: ChildProcess) => void;
}

/** The bin run without blocking this process (for tests whose registry or proxy answers from it). */
export function runCliAsync(args: string[], env: NodeJS.ProcessEnv = process.env, options: AsyncRunOptions = {}): Promise<AsyncRun> {
  return new Promise((resolve, reject) => {
    const piped = options.input !== undefined;
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: [piped ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    if (piped) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    options.onStart?.(child);
  });
}

/**
 * Runs node with `args`, reading its standard output as a slow pipe's reader would: each piece taken
 * 2 ms late, so the child's writes outrun the reader and queue. What a process that exits with bytes
 * still queued loses is missing from `stdout`.
 */
export async function runSlowlyRead(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve(status));
  });
  const taken: Buffer[] = [];
  for await (const piece of child.stdout as AsyncIterable<Buffer>) {
    taken.push(piece);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { status: await closed, stdout: Buffer.concat(taken), stderr };
}

/** Starts the bin without waiting; the caller owns the child. */
export function startCli(args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe']) {
  return spawn(process.execPath, [BIN, ...args], { stdio });
}

/** Files the CLI may leave behind in `dir`: its temporary files. */
export function temporaries(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.fastlayer-tmp'));
}

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

/** The stderr of a failed run is exactly one line `fastlayer: ...`. */
export function oneErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => l !== '');
  return lines.length === 1 && lines[0]!.startsWith('fastlayer: ') ? lines[0] : undefined;
}
