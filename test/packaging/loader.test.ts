// The loader (src/engine/native.ts): local build, else prebuild, else one warning and the js engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative } from '../../src/engine/native.js';
import { BLOCK_SIZE, FORMAT_VERSION } from '../../src/engine/format.js';
import { cleanEnv, compiledModule, fallbackWarnings, onLinuxX64, prebuildFile, root, runModule, tool } from '../helpers/packaging.js';

const PROBE = `
const { loadNative } = await import(process.argv[1]);
const a = loadNative();
const b = loadNative();
console.log(JSON.stringify({
  same: a === b, loaded: a.addon !== undefined, kind: a.kind, path: a.path,
  fingerprint: a.addon?.info.fingerprint, code: a.error?.code, message: a.error?.message,
}));
`;

interface Probe {
  same: boolean;
  loaded: boolean;
  kind?: string;
  path?: string;
  fingerprint?: string;
  code?: string;
  message?: string;
}

function probe(env: NodeJS.ProcessEnv): { result: Probe; warnings: number; stderr: string } {
  const r = runModule(PROBE, [compiledModule('engine/native.js')], env);
  assert.equal(r.status, 0, `probe failed:\n${r.stderr}`);
  return { result: JSON.parse(r.stdout) as Probe, warnings: fallbackWarnings(r.stderr), stderr: r.stderr };
}

function tempPackage(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-loader-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fastlayer', version: '0.0.0' }));
  return dir;
}

function localBuildPresent(): boolean {
  try {
    return readdirSync(join(root, 'build', 'Release')).some((f) => f.endsWith('.node'));
  } catch {
    return false;
  }
}

// scripts/test.cjs (npm test) says which addon pretest chose: 'source' (built just now), 'prebuild'
// (no source build possible here; PREBUILDS_ONLY=1) or 'none' (neither); unset when run directly.
const underTest = process.env.FASTLAYER_TEST_ADDON;
const noSourceBuild = process.env.FASTLAYER_TEST_NO_SOURCE_BUILD;

test('in this checkout the addon loads: the local build when present, else the prebuild', {
  skip: underTest === 'none' ? `${noSourceBuild ?? 'no source build'}, and no prebuild for ${process.platform}-${process.arch}` : false,
}, () => {
  // PREBUILDS_ONLY=1 (CI's run against the committed prebuild) ignores a local build.
  const local = localBuildPresent() && !process.env.PREBUILDS_ONLY;
  if (!local && !existsSync(prebuildFile)) {
    assert.fail('neither build/Release/*.node nor the committed prebuild exists: run npm run build:native');
  }
  const r = loadNative();
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.kind, local ? 'build' : 'prebuild');
  assert.equal(r.addon?.info.format, FORMAT_VERSION);
  assert.equal(r.addon?.info.blockSize, BLOCK_SIZE);
});

test('npm test after a source build tests that build: built from the current sources, not a fallback to the prebuild', {
  skip: underTest === 'source' ? false : (noSourceBuild ?? 'not run by npm test after a source build'),
}, () => {
  const r = loadNative();
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.kind, 'build', `the suite loaded ${r.path} instead of the source build in build/Release`);
  const sources = tool(process.execPath, [join(root, 'scripts', 'find-libs.cjs'), 'fingerprint'], { cwd: root }).trim();
  assert.equal(r.addon?.info.fingerprint, sources, 'build/Release was not built from the current native sources');
});

test('npm test without a source build tests the committed prebuild, whatever build/ holds', {
  skip: underTest === 'prebuild' ? false : 'npm test did a source build, or the suite was not run by npm test',
}, () => {
  const r = loadNative();
  assert.equal(r.error, undefined, r.error?.message);
  assert.equal(r.kind, 'prebuild');
  assert.equal(r.path, prebuildFile);
});

test('PREBUILDS_ONLY=1 loads the committed prebuild, with no warning', { skip: !onLinuxX64 }, () => {
  const { result, warnings, stderr } = probe(cleanEnv({ PREBUILDS_ONLY: '1' }));
  assert.equal(result.loaded, true, result.message);
  assert.equal(result.kind, 'prebuild');
  assert.equal(result.path, prebuildFile);
  assert.match(result.fingerprint ?? '', /^[0-9a-f]{16}$/);
  assert.equal(warnings, 0, stderr);
});

test('no addon at all: a coded error naming where it looked, and exactly one warning', (t) => {
  const dir = tempPackage(t);
  const { result, warnings, stderr } = probe(cleanEnv({ FASTLAYER_PREBUILD: dir }));
  assert.equal(result.same, true, 'loadNative caches its result');
  assert.equal(result.loaded, false);
  assert.equal(result.code, 'ERR_FASTLAYER_NATIVE_UNAVAILABLE');
  assert.ok(result.message?.includes(join(dir, 'prebuilds', `${process.platform}-${process.arch}`)), result.message);
  assert.equal(warnings, 1, stderr);
  // The warning says why and how to get the native engine.
  assert.ok(stderr.includes('no addon found'), stderr);
  assert.ok(stderr.includes('libisal-dev zlib1g-dev'), stderr);
  assert.ok(stderr.includes('npm rebuild fastlayer --build-from-source'), stderr);
  assert.ok(stderr.includes('FASTLAYER_ENGINE=js'), stderr);
});

test('an explicit FASTLAYER_ENGINE means no fallback warning', (t) => {
  const dir = tempPackage(t);
  for (const engine of ['js', 'native']) {
    const { result, warnings, stderr } = probe(cleanEnv({ FASTLAYER_PREBUILD: dir, FASTLAYER_ENGINE: engine }));
    assert.equal(result.loaded, false);
    assert.equal(warnings, 0, `FASTLAYER_ENGINE=${engine}: ${stderr}`);
  }
});

test('a local build that does not load falls back to the prebuild', { skip: !onLinuxX64 }, (t) => {
  const dir = tempPackage(t);
  mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
  writeFileSync(join(dir, 'build', 'Release', 'fastlayer.node'), 'not an ELF file');
  const { result: broken } = probe(cleanEnv({ FASTLAYER_PREBUILD: dir }));
  assert.equal(broken.loaded, false);
  assert.ok(broken.message?.includes('does not load'), broken.message);
  assert.ok(broken.message?.includes(join(dir, 'build', 'Release', 'fastlayer.node')), broken.message);

  mkdirSync(join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
  copyFileSync(prebuildFile, join(dir, 'prebuilds', 'linux-x64', 'fastlayer.glibc.node'));
  const { result, warnings, stderr } = probe(cleanEnv({ FASTLAYER_PREBUILD: dir }));
  assert.equal(result.loaded, true, result.message);
  assert.equal(result.kind, 'prebuild');
  assert.equal(result.path, join(dir, 'prebuilds', 'linux-x64', 'fastlayer.glibc.node'));
  assert.equal(warnings, 0, stderr);
});

test('a prebuild for another libc is not picked', { skip: !onLinuxX64 }, (t) => {
  const dir = tempPackage(t);
  mkdirSync(join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
  copyFileSync(prebuildFile, join(dir, 'prebuilds', 'linux-x64', 'fastlayer.musl.node'));
  const { result } = probe(cleanEnv({ FASTLAYER_PREBUILD: dir }));
  assert.equal(result.loaded, false);
  assert.equal(result.code, 'ERR_FASTLAYER_NATIVE_UNAVAILABLE');
});

const SELECT = `
const { availableEngines, selectEngine } = await import(process.argv[1]);
const out = { available: availableEngines().map((e) => e.name) };
try { out.selected = selectEngine().name; } catch (err) { out.code = err.code; out.message = err.message; }
console.log(JSON.stringify(out));
`;

test('engine selection without the addon: js with one warning; FASTLAYER_ENGINE=native fails loudly', (t) => {
  const dir = tempPackage(t);
  const fallback = runModule(SELECT, [compiledModule('engine/engines.js')], cleanEnv({ FASTLAYER_PREBUILD: dir }));
  assert.equal(fallback.status, 0, fallback.stderr);
  assert.deepEqual(JSON.parse(fallback.stdout), { available: ['js'], selected: 'js' });
  assert.equal(fallbackWarnings(fallback.stderr), 1, fallback.stderr);

  const forced = runModule(
    SELECT,
    [compiledModule('engine/engines.js')],
    cleanEnv({ FASTLAYER_PREBUILD: dir, FASTLAYER_ENGINE: 'native' }),
  );
  assert.equal(forced.status, 0, forced.stderr);
  const out = JSON.parse(forced.stdout) as { selected?: string; code?: string; message?: string };
  assert.equal(out.selected, undefined);
  assert.equal(out.code, 'ERR_ENGINE_UNAVAILABLE');
  assert.ok(out.message?.includes('no addon found'), out.message);
  assert.equal(fallbackWarnings(forced.stderr), 0, forced.stderr);
});
