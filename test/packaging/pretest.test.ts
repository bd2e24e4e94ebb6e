// npm test on a machine that cannot build the addon: scripts/pretest.cjs decides to test the committed
// prebuild and says why in one line, and scripts/test.cjs then runs the suite with PREBUILDS_ONLY=1 so
// that a build/ left by an earlier build is not what gets tested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, onLinuxX64, root } from '../helpers/packaging.js';

interface Decision {
  lines: string[];
  marker: { addon: string; reason?: string };
}

function decide(extra: Record<string, string>): Decision {
  const env = cleanEnv(extra);
  for (const name of ['FASTLAYER_ISAL_LIB', 'FASTLAYER_ISAL_INCLUDE', 'FASTLAYER_ZLIB_LIB', 'CXX']) {
    if (!(name in extra)) delete env[name];
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'pretest.cjs'), '--decide'], { env, encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  return { lines: lines.slice(0, -1), marker: JSON.parse(lines.at(-1)!) as Decision['marker'] };
}

const prebuild = onLinuxX64 ? 'prebuild' : 'none';

test('without a C++ compiler npm test tests the prebuild and says why in exactly one line', () => {
  const { lines, marker } = decide({ CXX: '/nonexistent/c++' });
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^pretest: no source build here, no C\+\+ compiler \(\/nonexistent\/c\+\+\): /);
  if (onLinuxX64) assert.ok(lines[0]!.includes('testing the committed prebuild prebuilds/linux-x64/fastlayer.glibc.node'), lines[0]);
  assert.deepEqual(marker, { addon: prebuild, reason: 'no source build here: no C++ compiler (/nonexistent/c++)' });
});

test('without the ISA-L headers the reason is the one find-libs.cjs gives', () => {
  const { lines, marker } = decide({ FASTLAYER_ISAL_INCLUDE: '/nonexistent/include' });
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.equal(marker.addon, prebuild);
  assert.equal(marker.reason, 'no source build here: FASTLAYER_ISAL_INCLUDE points to a missing file: /nonexistent/include');
});

test('PREBUILDS_ONLY=1 npm test tests the prebuild', () => {
  const { marker } = decide({ PREBUILDS_ONLY: '1' });
  assert.deepEqual(marker, { addon: prebuild, reason: 'no source build here: PREBUILDS_ONLY is set' });
});

/** A copy of scripts/test.cjs with one test file that reports the environment it ran in. */
function runner(t: { after(fn: () => void): void }, marker: object | undefined): Record<string, string | null> {
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'dist-test', 'test'), { recursive: true });
  copyFileSync(join(root, 'scripts', 'test.cjs'), join(dir, 'scripts', 'test.cjs'));
  // The test file below is CommonJS: a package.json of its own, so that one with "type": "module"
  // above the OS temp dir (seen: /tmp/package.json) cannot make it an ES module.
  writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
  if (marker) writeFileSync(join(dir, 'dist-test', 'test-addon.json'), JSON.stringify(marker));
  const out = join(dir, 'env.json');
  writeFileSync(
    join(dir, 'dist-test', 'test', 'env.test.js'),
    `const names = ['PREBUILDS_ONLY', 'FASTLAYER_TEST_ADDON', 'FASTLAYER_TEST_NO_SOURCE_BUILD'];
     require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]))));
     require('node:test').test('ran', () => {});`,
  );
  const env = cleanEnv();
  delete env.FASTLAYER_TEST_ADDON;
  delete env.FASTLAYER_TEST_NO_SOURCE_BUILD;
  const r = spawnSync(process.execPath, [join(dir, 'scripts', 'test.cjs')], { env, encoding: 'utf8', cwd: dir });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return JSON.parse(readFileSync(out, 'utf8')) as Record<string, string | null>;
}

test('after pretest chose the prebuild, the suite runs with PREBUILDS_ONLY=1 (a stale build/ is not loaded)', (t) => {
  const seen = runner(t, { addon: 'prebuild', reason: 'no source build here: no make' });
  assert.deepEqual(seen, { PREBUILDS_ONLY: '1', FASTLAYER_TEST_ADDON: 'prebuild', FASTLAYER_TEST_NO_SOURCE_BUILD: 'no source build here: no make' });
});

test('after a source build, the suite runs with the loader order unchanged', (t) => {
  const seen = runner(t, { addon: 'source' });
  assert.deepEqual(seen, { PREBUILDS_ONLY: null, FASTLAYER_TEST_ADDON: 'source', FASTLAYER_TEST_NO_SOURCE_BUILD: null });
});
