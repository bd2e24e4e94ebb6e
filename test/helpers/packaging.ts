// Shared by the packaging tests: where things are, and running a child Node with a clean environment.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/engine/native.js';

export const root = packageRoot();
export const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64';
export const prebuildFile = join(root, 'prebuilds', 'linux-x64', 'fastlayer.glibc.node');

/** URL of a compiled module next to this test (dist-test/src/...), for children to import. */
export function compiledModule(name: string): string {
  return pathToFileURL(fileURLToPath(new URL(`../../src/${name}`, import.meta.url))).href;
}

/** The environment without the switches that change how the addon loads or which engine runs. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['FASTLAYER_ENGINE', 'FASTLAYER_PREBUILD', 'PREBUILDS_ONLY', 'NODE_OPTIONS', 'NODE_TEST_CONTEXT']) {
    delete env[name];
  }
  return { ...env, ...extra };
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an ES module snippet in a child Node; `args` become process.argv[1..]. */
export function runModule(code: string, args: string[], env: NodeJS.ProcessEnv): Ran {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...args], {
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a tool and returns stdout; throws with the tool's stderr when it fails. */
export function tool(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 180_000, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Occurrences of the fallback warning in a child's stderr. */
export function fallbackWarnings(stderr: string): number {
  return stderr.split('\n').filter((line) => line.includes('[FASTLAYER_NATIVE_FALLBACK]')).length;
}
