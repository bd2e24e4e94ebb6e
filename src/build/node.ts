// buildNodeImage: an image of a Node project in the layout the ecosystem expects (jib's and ko's
// idea for Node): the dependencies (package.json, the lockfile, node_modules as the project has
// them) in one layer and the application's own files in the next, so that a change to the code
// uploads only the small layer. Both go under the app directory, which is also WORKDIR.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrInvalidOption, ErrOptionRange } from '../core/errors.js';
import { parseJSON } from '../image/json.js';
import type { WriteResult } from '../image/write.js';
import { buildImage, type BuildSpec, type LayerSpec } from './build.js';
import { hasSbomLockfile, type SbomOptions } from './sbom.js';

/** Options of buildNodeImage: those of buildImage (but `layers`), and where the project is. */
export interface NodeBuildSpec extends Omit<BuildSpec, 'layers' | 'sbom'> {
  /**
   * Attach an SPDX SBOM of the project's package-lock.json as an OCI 1.1 referrer (sbom.ts): `true`,
   * or the SBOM's options (`created`); a lockfile version 1 or none is then ErrSbomLockfile. `'auto'`
   * (the default of `fastlayer node`): an SBOM when the project has a version 2 or 3 lockfile, none
   * otherwise. Default off here: a custom Destination need not take referrers.
   */
  sbom?: boolean | 'auto' | SbomOptions;
  /** The project directory (holding package.json). Default: the working directory. */
  dir?: string;
  /** Absolute image path of the application, its WORKDIR. Default `/app`. */
  appDir?: string;
}

/** The files of the dependency layer, at the project's top: the manifest, every lockfile npm, yarn and pnpm write, and node_modules. */
export const DEPENDENCY_FILES: readonly string[] = [
  'package.json', 'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'node_modules',
];

/**
 * Left out of the application layer whatever .dockerignore says: the dependency layer holds the
 * first ones; `.git` is history, not application; `.npmrc` is where npm keeps registry tokens
 * (`//registry.npmjs.org/:_authToken=...`), which an image must not carry.
 */
const APP_EXCLUDED: readonly string[] = [...DEPENDENCY_FILES.map((f) => `/${f}`), '.git', '/.npmrc'];

/** A package.json larger than this is not a manifest: refused rather than read whole. */
const MAX_PACKAGE_JSON = 4 * 1024 * 1024;

async function readPackageJson(dir: string): Promise<Record<string, unknown>> {
  const file = join(dir, 'package.json');
  let handle;
  try {
    // O_NOFOLLOW: the manifest is the project's own file, not a link to somewhere else on the host.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ErrOptionRange('dir', `a Node project directory holding package.json (${code === 'ELOOP' ? 'package.json is a symlink' : code ?? 'unreadable'})`, dir);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ErrOptionRange('dir', 'a Node project directory whose package.json is a regular file', dir);
    if (st.size > MAX_PACKAGE_JSON) throw new ErrOptionRange('dir', `a project whose package.json is at most ${MAX_PACKAGE_JSON} bytes`, dir);
    const value = parseJSON(await handle.readFile());
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ErrOptionRange('dir', 'a project whose package.json holds an object', dir);
    }
    return value as Record<string, unknown>;
  } finally {
    await handle.close();
  }
}

// A start script is taken as the command only when it is one plain `node ...` invocation: no shell
// (operators, quotes, expansions, redirections), because the image runs it without one.
const SHELL_CHARS = /[|&;<>()$`\\"'*?[\]{}~#!\n\r=]/;

/**
 * The command of the image from package.json: `scripts.start` when it is a plain `node FILE ...`
 * command (split on spaces), else `node MAIN` when `main` is set, else undefined.
 */
export function nodeCommand(pkg: Readonly<Record<string, unknown>>): string[] | undefined {
  const scripts = pkg.scripts;
  const start = typeof scripts === 'object' && scripts !== null ? (scripts as Record<string, unknown>).start : undefined;
  if (typeof start === 'string' && !SHELL_CHARS.test(start)) {
    const words = start.trim().split(/[ \t]+/);
    if (words[0] === 'node' && words.length >= 2) return words;
  }
  if (typeof pkg.main === 'string' && pkg.main !== '' && !pkg.main.startsWith('-')) return ['node', pkg.main];
  return undefined;
}

/** The two directory layers of a project at `dir`, under `appDir`. */
export function nodeLayers(dir: string, appDir: string): [LayerSpec, LayerSpec] {
  // `include` takes the top-level dependency files (node_modules with everything below it); the
  // build's `exclude` then leaves paths out of them. It is not an exclude list of its own ('*', then
  // '!node_modules'): the last match wins there, so its '!' lines took back what the user excluded
  // (node_modules/**/.env). The project's .dockerignore is not read here: a `node_modules` line
  // there is meant for `docker build`, which installs dependencies itself.
  const dependencies: LayerSpec = { dir, dest: appDir, dockerignore: false, include: [...DEPENDENCY_FILES] };
  // Layer patterns come after .dockerignore's, and the last match wins: a `!node_modules` there does
  // not put the dependencies back into this layer.
  const app: LayerSpec = { dir, dest: appDir, exclude: [...APP_EXCLUDED] };
  return [dependencies, app];
}

/**
 * The buildImage spec of the Node project at `spec.dir`: the dependency layer, then the application
 * layer, WORKDIR and NODE_ENV=production, the command from package.json unless `cmd` or
 * `entrypoint` is given, and fixed entry times unless SOURCE_DATE_EPOCH or `mtime` says otherwise.
 * `fastlayer node` turns its flags into the same spec and goes through here too.
 */
export async function nodeSpec<S extends NodeBuildSpec>(spec: S): Promise<Omit<S, 'dir' | 'appDir' | 'sbom'> & Pick<BuildSpec, 'layers' | 'sbom'>> {
  if (typeof spec !== 'object' || spec === null) throw new ErrInvalidOption('spec', 'an object', spec);
  if ('layers' in spec && (spec as { layers?: unknown[] }).layers?.length) {
    throw new ErrInvalidOption('layers', 'absent (the layers are made from the project)', (spec as { layers: unknown }).layers);
  }
  const dir = spec.dir ?? '.';
  if (typeof dir !== 'string' || dir === '') throw new ErrInvalidOption('dir', 'a directory path', dir);
  const appDir = spec.appDir ?? '/app';
  if (typeof appDir !== 'string' || !appDir.startsWith('/') || appDir.split('/').some((p) => p === '..' || p === '.')) {
    throw new ErrOptionRange('appDir', 'an absolute image path without . or .. parts', appDir);
  }
  const pkg = await readPackageJson(dir);
  let cmd = spec.cmd;
  if (cmd === undefined && spec.entrypoint === undefined) {
    cmd = nodeCommand(pkg);
    if (cmd === undefined) {
      throw new ErrOptionRange('cmd', 'given: package.json has no plain `node FILE` start script and no main', undefined);
    }
  }
  const { dir: _dir, appDir: _appDir, sbom, ...rest } = spec;
  if (sbom !== undefined && sbom !== 'auto' && typeof sbom !== 'boolean' && (typeof sbom !== 'object' || sbom === null)) throw new ErrInvalidOption('sbom', "a boolean, 'auto' or SBOM options", sbom);
  const wanted = sbom === 'auto' ? await hasSbomLockfile(dir) : sbom !== undefined && sbom !== false;
  const sbomSpec = wanted ? { sbom: { ...(typeof sbom === 'object' ? sbom : {}), dir } } : {};
  const env = ['NODE_ENV=production', ...(spec.env ?? [])];
  return { ...rest, ...sbomSpec, layers: nodeLayers(dir, appDir), workdir: spec.workdir ?? appDir, env, cmd };
}

/** Builds the image of the Node project at `spec.dir` on `spec.base` (which should hold `node`). */
export async function buildNodeImage(spec: NodeBuildSpec): Promise<WriteResult> {
  return buildImage(await nodeSpec(spec));
}
