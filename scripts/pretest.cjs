#!/usr/bin/env node
// `npm test`'s set-up: builds the addon from source when this machine can (a C++ compiler, make,
// python3, and the ISA-L and zlib development files that scripts/find-libs.cjs looks for), otherwise
// leaves the committed prebuild to be tested and says so in one line. Then compiles the TypeScript and
// the tests, and records which addon the suite is meant to test in dist-test/test-addon.json, which
// scripts/test.cjs reads (it runs the prebuild case with PREBUILDS_ONLY=1, so a build/ left by an
// earlier build is never tested in place of the prebuild).
// A machine that has everything but whose build then fails is a real failure: no fallback then.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const MARKER = path.join(root, 'dist-test', 'test-addon.json');

function quietly(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: !r.error && r.status === 0, stderr: r.stderr ?? '', error: r.error };
}

function firstLine(text) {
  return (text.trim().split('\n')[0] ?? '').replace(/^find-libs: /, '').replace(/\.$/, '').trim();
}

/** Why a source build cannot be done here, or undefined when it can. */
function whyNoSourceBuild() {
  if (process.env.PREBUILDS_ONLY) return 'PREBUILDS_ONLY is set';
  // node-gyp's Makefiles compile with $CXX (make's default: g++) and need make and python3.
  const cxx = process.env.CXX || 'g++';
  for (const [cmd, args, what] of [
    [cxx, ['--version'], `no C++ compiler (${cxx})`],
    ['make', ['--version'], 'no make'],
  ]) {
    if (!quietly(cmd, args).ok) return what;
  }
  if (!quietly('python3', ['--version']).ok && !quietly('python', ['--version']).ok) return 'no python3';
  for (const command of ['cflags', 'libs']) {
    const r = quietly(process.execPath, [path.join(root, 'scripts', 'find-libs.cjs'), command]);
    if (!r.ok) return firstLine(r.stderr) || `find-libs.cjs ${command} failed`;
  }
  return undefined;
}

function prebuildFile() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  try {
    const name = fs.readdirSync(dir).sort().find((f) => f.endsWith('.node'));
    return name && path.relative(root, path.join(dir, name));
  } catch {
    return undefined;
  }
}

function localBuildPresent() {
  try {
    return fs.readdirSync(path.join(root, 'build', 'Release')).some((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
}

function npmRun(script) {
  // npm_execpath is the npm that runs this script; fall back to npm on PATH.
  const npm = process.env.npm_execpath;
  const [cmd, args] = npm ? [process.execPath, [npm, 'run', script]] : ['npm', ['run', script]];
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    process.stderr.write(`pretest: npm run ${script} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})\n`);
    process.exit(1);
  }
}

/** What npm test will test here, and the one line that says so when it is not a source build. */
function decide() {
  const reason = whyNoSourceBuild();
  if (reason === undefined) return { marker: { addon: 'source' } };
  const prebuild = prebuildFile();
  const stale = localBuildPresent() ? '; the build/ of an earlier build is ignored' : '';
  const what = prebuild
    ? `testing the committed prebuild ${prebuild}`
    : `no prebuild for ${process.platform}-${process.arch} either: testing the TypeScript engine only`;
  return {
    marker: { addon: prebuild ? 'prebuild' : 'none', reason: `no source build here: ${reason}` },
    line: `pretest: no source build here, ${reason}: ${what}; the tests that need a source build are skipped${stale}.`,
  };
}

const { marker, line } = decide();
if (line) process.stdout.write(`${line}\n`);
// --decide: only say what would be tested (the tests of this script use it), build nothing.
if (process.argv.includes('--decide')) {
  process.stdout.write(`${JSON.stringify(marker)}\n`);
  process.exit(0);
}
if (marker.addon === 'source') npmRun('build:native');
npmRun('build:ts');
npmRun('build:test');
fs.mkdirSync(path.dirname(MARKER), { recursive: true });
fs.writeFileSync(MARKER, `${JSON.stringify(marker)}\n`);
