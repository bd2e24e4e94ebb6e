#!/usr/bin/env node
// `npm test`: runs the compiled tests against the addon scripts/pretest.cjs chose
// (dist-test/test-addon.json):
// - source: the fresh build/Release (the loader's normal order);
// - prebuild or none: PREBUILDS_ONLY=1, so a build/ left by an earlier build is not loaded, and
//   FASTLAYER_TEST_NO_SOURCE_BUILD carries the reason the source-build tests give when they skip.
// FASTLAYER_TEST_ADDON tells the tests which of these it is.
//
// Tiers (docs/TESTING.md):
// - `npm test`: every test file but the slow tier, several files at once (a file's tests still run in
//   order). Most files wait on child processes, registries and the disk, so two or three at a time
//   finish sooner even on 2 CPUs.
// - `npm run test:slow`: the slow tier, one file at a time: tests that measure the process (RSS, OS
//   threads, threadpool, GC) and must not share the machine with other files, and long randomised
//   or exhaustive runs. CI runs it after `npm test`.
// - `npm run test:all`: both, the quick tier first.
// - files given (`npm test -- dist-test/test/layer/api.test.js`): those, one at a time.
// - --list: print the files the tier would run, run nothing.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const testDir = path.join(root, 'dist-test', 'test');

// The slow tier (paths under test/, without .test.js), each with why it is there. A file here that no longer exists fails the slow tier's
// run (CI's), so the list cannot silently stop meaning anything.
const SLOW = {
  'hazard/memory': 'RSS over long runs (10,000 layers, 200 MB layers): flat only on a machine of its own',
  'hazard/unload': 'worker lifetimes by the hundred, RSS per lifetime',
  'hazard/gc': 'forced GC rounds, RSS from round to round',
  'hazard/threadpool': '64 layers at once against the default threadpool, fs latency measured',
  'hazard/worker': 'workers and processes ended with native calls in flight, 4 threads each',
  'hazard/buffers': 'a 256 MiB chunk and detach races in child processes',
  'hazard/streams': 'every stream form torn down at every stage, on every engine',
  'layer/chunking': 'every chunking of the corpora on each engine',
  'layer/threads': 'every thread count, chunking, level and engine',
  'build/acceptance-npm': 'express from the npm registry, `npm ci` twice: network-bound, about 40 s',
  'estargz/verify': "stargz-snapshotter's estargz reader, built on first run from Debian's packaged Go sources (apt download, go build)",
  'image/estargz-verify': 'eStargz images of fastlayer image and node through the same upstream reader (built on first run)',
  'tar/huge-file': 'a sparse file over 8 GiB streamed through tarDirectory: about 30 s of CPU reading zeros',
  'estargz/lazy-pull': 'a lazy pull through the real stargz-snapshotter (built from Debian\'s Go sources on first run), a private containerd and FUSE: root only, about 20 s once built',
};

function readMarker() {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'dist-test', 'test-addon.json'), 'utf8'));
  } catch {
    return undefined; // run without npm's pretest (--ignore-scripts): leave the loader's order alone
  }
}

const env = { ...process.env };
const marker = readMarker();
if (marker?.addon === 'source') {
  env.FASTLAYER_TEST_ADDON = 'source';
} else if (marker) {
  env.FASTLAYER_TEST_ADDON = marker.addon;
  env.FASTLAYER_TEST_NO_SOURCE_BUILD = marker.reason;
  env.PREBUILDS_ONLY = '1';
}

// `npm test -- --test-name-pattern=x dist-test/test/a.test.js`: options go to node, the rest are files;
// --tier=quick|slow|all and --list are ours.
const args = process.argv.slice(2);
const tierArg = args.find((a) => a.startsWith('--tier='));
const tier = tierArg ? tierArg.slice('--tier='.length) : 'quick';
if (!['quick', 'slow', 'all'].includes(tier)) {
  console.error(`test: --tier must be quick, slow or all, not ${JSON.stringify(tier)}`);
  process.exit(2);
}
const list = args.includes('--list');
const options = args.filter((a) => a.startsWith('-') && a !== tierArg && a !== '--list');
const given = args.filter((a) => !a.startsWith('-'));

function run(files, concurrency) {
  if (files.length === 0) return 0;
  if (list) {
    for (const f of files) console.log(f);
    return 0;
  }
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...options, ...files],
    { cwd: root, env, stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

if (given.length > 0) {
  process.exitCode = run(given, 1);
} else {
  // Test files sit in folders that mirror src/ (test/layer/api.test.ts): walk them all.
  const all = fs.readdirSync(testDir, { recursive: true })
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.test.js')).sort();
  const slowNames = Object.keys(SLOW);
  const missing = slowNames.filter((n) => !all.includes(`${n}.test.js`));
  if (tier !== 'quick' && missing.length > 0) {
    console.error(`test: the slow tier names files that do not exist: ${missing.join(', ')} (scripts/test.cjs)`);
    process.exit(1);
  }
  const isSlow = (f) => slowNames.includes(f.replace(/\.test\.js$/, ''));
  const rel = (f) => path.join('dist-test', 'test', f);
  const quick = all.filter((f) => !isSlow(f)).map(rel);
  const slow = all.filter(isSlow).map(rel);
  // FASTLAYER_TEST_CONCURRENCY=1 gives the old serial run (to read one file's output undisturbed).
  const fromEnv = Number.parseInt(process.env.FASTLAYER_TEST_CONCURRENCY ?? '', 10);
  const concurrency = fromEnv > 0 ? fromEnv : Math.min(4, Math.max(3, os.availableParallelism()));
  let status = 0;
  if (tier !== 'slow') status = run(quick, concurrency);
  if (tier !== 'quick') status = run(slow, 1) || status;
  process.exitCode = status;
}
