// Builds bench/c-baseline.cc with the native core (native/core/*.cc, no Node) into
// .cache/bench/, once per version of the sources and flags.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, cacheDir, repoRoot } from './paths.js';

/** Link flags of the native build (ISA-L, the static zlib and zstd), so the baseline links what the addon links. */
function libraryFlags() {
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'find-libs.cjs'), 'libs'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(/\s+/).filter(Boolean) : ['-lisal', '-lz', '-lzstd'];
}

/** Include flags of the native build, so the baseline compiles exactly what the addon compiles. */
function includeFlags() {
  const findLibs = join(repoRoot, 'scripts', 'find-libs.cjs');
  if (existsSync(findLibs)) {
    const r = spawnSync(process.execPath, [findLibs, 'cflags'], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim().split(/\s+/).filter(Boolean);
  }
  return existsSync('/usr/include/isa-l') ? ['-I/usr/include/isa-l'] : [];
}

function runs(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: !r.error && r.status === 0, stderr: r.stderr ?? '' };
}

/**
 * Why the baseline cannot be compiled on this machine (no g++, or no ISA-L or zlib development files,
 * as on a machine with only Node and npm), or undefined when it can.
 */
function missingPrerequisite() {
  if (!runs('g++', ['--version']).ok) return 'no C++ compiler (g++)';
  const findLibs = join(repoRoot, 'scripts', 'find-libs.cjs');
  for (const command of ['cflags', 'libs']) {
    const r = runs(process.execPath, [findLibs, command]);
    if (!r.ok) return r.stderr.trim().split('\n')[0].replace(/^find-libs: /, '').replace(/\.$/, '');
  }
  return undefined;
}

/**
 * Returns { binary, command }, { skipped } (the machine cannot build it: the caller leaves the C rows
 * out with that note) or { error } (it should build and did not). The binary's name carries a hash of every input, so a
 * change to the native core or the flags rebuilds it.
 */
export function buildCBaseline(log = (m) => process.stderr.write(m + '\n')) {
  const nativeDir = join(repoRoot, 'native', 'core');
  const core = existsSync(nativeDir)
    ? readdirSync(nativeDir).filter((f) => f.endsWith('.cc')).sort()
    : [];
  if (!existsSync(join(nativeDir, 'pipeline.h')) || core.length === 0) {
    return { error: 'native/core/pipeline.h or the native core sources are missing' };
  }
  const sources = [join(benchDir, 'c-baseline.cc'), ...core.map((f) => join(nativeDir, f))];
  const args = [
    '-O3', '-std=c++17', '-pthread', '-DNDEBUG', `-I${nativeDir}`, ...includeFlags(),
    ...sources, ...libraryFlags(), '-o',
  ];
  const hash = createHash('sha256');
  hash.update(JSON.stringify(args));
  for (const f of readdirSync(nativeDir).sort()) {
    if (f.endsWith('.cc') || f.endsWith('.h')) hash.update(f).update(readFileSync(join(nativeDir, f)));
  }
  hash.update(readFileSync(sources[0]));
  mkdirSync(cacheDir, { recursive: true });
  const binary = join(cacheDir, `c-baseline-${hash.digest('hex').slice(0, 12)}`);
  const command = ['g++', ...args, binary].join(' ');
  if (existsSync(binary)) return { binary, command };
  const missing = missingPrerequisite();
  if (missing) return { skipped: `the C baseline cannot be built here: ${missing}`, command };
  log('c-baseline: compiling ...');
  const tmp = `${binary}.${process.pid}.tmp`;
  const r = spawnSync('g++', [...args, tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error || r.status !== 0) {
    return { error: `g++ failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`, command };
  }
  renameSync(tmp, binary);
  return { binary, command };
}
