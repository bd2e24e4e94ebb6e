// scripts/find-libs.cjs: the flags the source build gets, and the error that names what to install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, root } from '../helpers/packaging.js';

function findLibs(command: string, extra: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const env = cleanEnv(extra);
  for (const name of ['FASTLAYER_ISAL_LIB', 'FASTLAYER_ISAL_INCLUDE', 'FASTLAYER_ZLIB_LIB', 'FASTLAYER_ZSTD_LIB']) {
    if (!(name in extra)) delete env[name];
  }
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'find-libs.cjs'), command], { env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertInstallHint(stderr: string): void {
  for (const hint of [
    'libisal-dev zlib1g-dev libzstd-dev',
    'isa-l-devel zlib-devel zlib-static libzstd-devel libzstd-static',
    'isa-l-dev zlib-dev zlib-static zstd-dev zstd-static',
    'brew install pkg-config isa-l zlib zstd',
    'FASTLAYER_ISAL_LIB=',
  ]) {
    assert.ok(stderr.includes(hint), `the error does not mention "${hint}":\n${stderr}`);
  }
}

test('without pkg-config and a compiler that finds libisal, the error names the packages to install', () => {
  const r = findLibs('libs', { PKG_CONFIG: 'false', CC: 'false' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^find-libs: ISA-L \(libisal\) not found/);
  assertInstallHint(r.stderr);
});

test('an override pointing to a missing file is an error with the same hint', () => {
  // ISA-L is looked for first, then zlib, then zstd: the earlier ones are named too, so that the check does
  // not depend on whether this machine has their development files (a machine with only Node and npm has not).
  const present = join(root, 'package.json');
  const order = ['FASTLAYER_ISAL_LIB', 'FASTLAYER_ZLIB_LIB', 'FASTLAYER_ZSTD_LIB'];
  for (const [i, name] of order.entries()) {
    const others = Object.fromEntries(order.slice(0, i).map((earlier) => [earlier, present]));
    const r = findLibs('libs', { ...others, [name]: '/nonexistent/lib.a' });
    assert.equal(r.status, 1, name);
    assert.ok(r.stderr.includes(`${name} points to a missing file: /nonexistent/lib.a`), r.stderr);
    assertInstallHint(r.stderr);
  }
  const r = findLibs('cflags', { FASTLAYER_ISAL_INCLUDE: '/nonexistent/include' });
  assert.equal(r.status, 1);
  assertInstallHint(r.stderr);
});

test('FASTLAYER_ISAL_LIB, FASTLAYER_ZLIB_LIB and FASTLAYER_ZSTD_LIB replace the searched libraries, symbols stay hidden', () => {
  const isal = join(root, 'package.json');
  const zlib = join(root, 'binding.gyp');
  const zstd = join(root, 'tsconfig.json');
  const r = findLibs('libs', { FASTLAYER_ISAL_LIB: isal, FASTLAYER_ZLIB_LIB: zlib, FASTLAYER_ZSTD_LIB: zstd, PKG_CONFIG: 'false', CC: 'false' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split(' '), ['-Wl,--exclude-libs,ALL', isal, zlib, zstd]);
  // zstd.h next to the zstd override's archive (../include): nothing here depends on the machine's headers.
  const prefix = mkdtempSync(join(tmpdir(), 'fastlayer-find-libs-'));
  try {
    mkdirSync(join(prefix, 'lib'));
    mkdirSync(join(prefix, 'include'));
    writeFileSync(join(prefix, 'lib', 'libzstd.a'), '');
    writeFileSync(join(prefix, 'include', 'zstd.h'), '');
    const c = findLibs('cflags', { FASTLAYER_ISAL_INCLUDE: root, FASTLAYER_ZSTD_LIB: join(prefix, 'lib', 'libzstd.a'), PKG_CONFIG: 'false' });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.stdout.trim(), `-I${root} -I${join(prefix, 'lib', '..', 'include')}`);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

test('an unknown command prints the usage', () => {
  const r = findLibs('bogus', {});
  assert.equal(r.status, 1);
  assert.match(r.stderr, /usage: find-libs\.cjs cflags\|libs\|fingerprint/);
});

test('a machine without libzstd.a gets an error naming the zstd packages', () => {
  // Only the zstd override is broken (ISA-L and zlib point at files that exist, so this does not depend
  // on the machine's development files): the zstd message is the one shown.
  const present = join(root, 'package.json');
  const r = findLibs('libs', { FASTLAYER_ISAL_LIB: present, FASTLAYER_ZLIB_LIB: present, FASTLAYER_ZSTD_LIB: '/nonexistent/libzstd.a' });
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes('FASTLAYER_ZSTD_LIB points to a missing file'), r.stderr);
  assert.ok(r.stderr.includes('libzstd-dev') && r.stderr.includes('zstd-static'), r.stderr);
});
