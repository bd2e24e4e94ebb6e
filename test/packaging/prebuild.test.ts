// The committed prebuild: self-contained (static ISA-L and zlib, hidden) and built from these sources.
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK_SIZE, FORMAT_VERSION } from '../../src/engine/format.js';
import type { NativeAddon } from '../../src/engine/native.js';
import { onLinuxX64, prebuildFile, root, tool } from '../helpers/packaging.js';

const skip = onLinuxX64 ? false : 'prebuilds are committed for linux-x64 only';
/** The binutils tool, or the reason to skip (a machine with only Node and npm has none). */
function needs(cmd: string): string | false {
  if (skip) return skip;
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? `${cmd} is not installed (Debian: binutils)` : false;
}
const RUNTIMES = new Set(['libc.so.6', 'libm.so.6', 'libstdc++.so.6', 'libgcc_s.so.1']);

function fingerprintOf(dir: string): string {
  return tool(process.execPath, [join(dir, 'scripts', 'find-libs.cjs'), 'fingerprint'], { cwd: dir }).trim();
}

function loadPrebuild(): NativeAddon {
  const module = { exports: {} as NativeAddon };
  process.dlopen(module, prebuildFile);
  return module.exports;
}

test('the prebuild for linux-x64 glibc is committed', { skip }, () => {
  assert.ok(existsSync(prebuildFile), `${prebuildFile} is missing: run npm run prebuild and commit it`);
  assert.equal(tool('git', ['ls-files', '--error-unmatch', prebuildFile], { cwd: root }).trim(), 'prebuilds/linux-x64/fastlayer.glibc.node');
});

test('the prebuild needs only the C and C++ runtimes (no libisal, no libz) and has no text relocations', { skip: needs('readelf') }, () => {
  const dynamic = tool('readelf', ['-d', '-W', prebuildFile]);
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  assert.ok(needed.length > 0, `readelf found no NEEDED entries, is this a shared object?\n${dynamic}`);
  for (const lib of needed) assert.ok(RUNTIMES.has(lib), `the prebuild needs ${lib} at run time (NEEDED: ${needed.join(', ')})`);
  assert.ok(!needed.some((lib) => /isal|libz/.test(lib)));
  assert.doesNotMatch(dynamic, /TEXTREL/);
});

test('the prebuild asks for glibc 2.32 and GLIBCXX 3.4.26 at most (what the packaging docs promise)', { skip: needs('objdump') }, () => {
  const symbols = tool('objdump', ['-T', prebuildFile]);
  const newest = (prefix: string) =>
    [...symbols.matchAll(new RegExp(`\\b${prefix}_([0-9.]+)\\b`, 'g'))]
      .map((m) => m[1]!.split('.').map(Number))
      .reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b), [0]);
  assert.ok(compareVersions(newest('GLIBC'), [2, 32]) <= 0, `needs GLIBC_${newest('GLIBC').join('.')}`);
  assert.ok(compareVersions(newest('GLIBCXX'), [3, 4, 26]) <= 0, `needs GLIBCXX_${newest('GLIBCXX').join('.')}`);
  assert.doesNotMatch(symbols, /GLIBC_PRIVATE/);
});

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

test('the prebuild neither exports nor imports zlib, ISA-L or zstd symbols', { skip: needs('nm') }, () => {
  const symbols = tool('nm', ['-D', prebuildFile])
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop() ?? '')
    .filter(Boolean);
  assert.ok(symbols.includes('napi_register_module_v1'), 'not a Node-API addon?');
  const leaked = symbols.filter((s) => /^(deflate|inflate|crc32|adler32|zlib|isal_|crc16_|crc64_|gf_|ec_|ZSTD|ZSTDMT|HUF_|FSE_|HIST_|POOL_|\w*XXH)/i.test(s));
  assert.deepEqual(leaked, [], 'zlib/ISA-L/zstd symbols are visible in the dynamic symbol table');
});

test('staleness guard: the prebuild was built from the current native sources', { skip }, () => {
  const info = loadPrebuild().info;
  const current = fingerprintOf(root);
  assert.equal(
    info.fingerprint,
    current,
    `prebuilds/linux-x64/fastlayer.glibc.node was built from native sources with fingerprint ` +
      `${info.fingerprint}, but native/, binding.gyp and scripts/find-libs.cjs now have ${current}: ` +
      'run `npm run prebuild` and commit the new prebuild',
  );
  assert.equal(info.format, FORMAT_VERSION);
  assert.equal(info.blockSize, BLOCK_SIZE);
});

test('the fingerprint changes with a one-character change in native/ and in binding.gyp', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-fingerprint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const part of ['native', 'binding.gyp', 'scripts/find-libs.cjs']) {
    cpSync(join(root, part), join(dir, part), { recursive: true });
  }
  const before = fingerprintOf(dir);
  assert.match(before, /^[0-9a-f]{16}$/);
  assert.equal(before, fingerprintOf(root), 'the fingerprint depends on where the sources are');

  const header = join(dir, 'native', 'core', 'format.h');
  const text = readFileSync(header, 'utf8');
  writeFileSync(header, `${text} `);
  const changed = fingerprintOf(dir);
  assert.notEqual(changed, before);
  writeFileSync(header, text);
  assert.equal(fingerprintOf(dir), before);
  // A scratch file that is not a source (and is not shipped) leaves it alone.
  writeFileSync(join(dir, 'native', 'core', 'scratch-driver'), 'binary');
  assert.equal(fingerprintOf(dir), before);

  writeFileSync(join(dir, 'binding.gyp'), `${readFileSync(join(dir, 'binding.gyp'), 'utf8')}\n`);
  assert.notEqual(fingerprintOf(dir), before);
});
