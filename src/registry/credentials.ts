// Credentials from the Docker config, the way docker and crane find them: `credHelpers[host]`, then
// `credsStore`, then `auths[host]` (`auth` = base64 user:pass, or `identitytoken`). Docker Hub's key is
// `https://index.docker.io/v1/`. A helper runs as `docker-credential-NAME get` with the server on its
// stdin, for a bounded time; its output is never quoted in errors.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_HUB } from '../image/reference.js';
import { ErrRegistryCredentials } from './errors.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`), exchanged at the token realm. */
  identityToken?: string;
}

export interface CredentialOptions {
  dockerConfig?: string;
  helperTimeout?: number;
}

export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
const HELPER_OUTPUT_CAP = 64 * 1024;

/** Host part of an `auths` / `credHelpers` key (`https://index.docker.io/v1/` -> `index.docker.io`). */
function hostOf(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
}

function matches(key: string, registry: string): boolean {
  const h = hostOf(key);
  if (registry === DOCKER_HUB) return HUB_ALIASES.has(h);
  return h === registry.toLowerCase();
}

/** Credentials for `registry` (as references name it), or undefined for anonymous access. */
export async function resolveCredentials(registry: string, options: CredentialOptions = {}): Promise<Credentials | undefined> {
  const dir = options.dockerConfig ?? process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new ErrRegistryCredentials(`cannot read the Docker config ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text) as Record<string, unknown>;
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error('not an object');
  } catch {
    throw new ErrRegistryCredentials(`the Docker config ${path} is not a JSON object`);
  }
  const server = registry === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
  const helpers = record(config.credHelpers);
  for (const [k, name] of Object.entries(helpers)) {
    if (typeof name === 'string' && matches(k, registry)) return runHelper(name, server, options.helperTimeout);
  }
  if (typeof config.credsStore === 'string' && config.credsStore !== '') {
    const found = await runHelper(config.credsStore, server, options.helperTimeout);
    if (found) return found;
  }
  const auths = record(config.auths);
  // An exact key wins over another key naming the same host.
  const keys = Object.keys(auths).sort((a, b) => Number(b === server) - Number(a === server));
  for (const k of keys) {
    if (!matches(k, registry)) continue;
    const entry = record(auths[k]);
    if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') return { identityToken: entry.identitytoken };
    if (typeof entry.auth === 'string' && entry.auth !== '') {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new ErrRegistryCredentials(`the Docker config's "auth" for ${registry} is not base64 of user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (typeof entry.username === 'string' && typeof entry.password === 'string') return { username: entry.username, password: entry.password };
  }
  return undefined;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** `docker-credential-NAME get`; undefined when the helper has nothing for this server. */
export function runHelper(name: string, server: string, timeout = 10_000): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    return Promise.reject(new ErrRegistryCredentials(`credential helper name "${name.slice(0, 40)}" is not valid`));
  }
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    // Its own process group, so that a helper's children (a shell's `sleep`, say) die with it.
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    const out: Buffer[] = [];
    let size = 0;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      child.stdout.destroy();
    };
    const timer = setTimeout(stop, timeout);
    child.stdout.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= HELPER_OUTPUT_CAP) out.push(b);
      else stop();
    });
    child.stdin.on('error', () => {});
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ErrRegistryCredentials(`credential helper ${program} could not run: ${err.code ?? 'error'}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8');
      if (stopped) return reject(new ErrRegistryCredentials(`credential helper ${program} was stopped (timeout ${timeout} ms or output over ${HELPER_OUTPUT_CAP} bytes)`));
      if (code !== 0) {
        if (/credentials not found/i.test(text)) return resolve(undefined);
        return reject(new ErrRegistryCredentials(`credential helper ${program} failed with exit code ${code}`));
      }
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return reject(new ErrRegistryCredentials(`credential helper ${program} printed something that is not JSON`));
      }
      const user = parsed.Username;
      const secret = parsed.Secret;
      if (typeof secret !== 'string' || secret === '') return resolve(undefined);
      if (user === '<token>') return resolve({ identityToken: secret });
      resolve({ username: typeof user === 'string' ? user : '', password: secret });
    });
    child.stdin.end(server);
  });
}
