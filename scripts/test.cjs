#!/usr/bin/env node
// `npm test`: runs the compiled tests (all of dist-test/test/*.test.js, or the files given) one file at
// a time, against the addon scripts/pretest.cjs chose (dist-test/test-addon.json):
// - source: the fresh build/Release (the loader's normal order);
// - prebuild or none: PREBUILDS_ONLY=1, so a build/ left by an earlier build is not loaded, and
//   FASTLAYER_TEST_NO_SOURCE_BUILD carries the reason the source-build tests give when they skip.
// FASTLAYER_TEST_ADDON tells the tests which of these it is.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const testDir = path.join(root, 'dist-test', 'test');

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

// `npm test -- --test-name-pattern=x dist-test/test/a.test.js`: options go to node, the rest are files.
const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith('-'));
let files = args.filter((a) => !a.startsWith('-'));
if (files.length === 0) {
  files = fs
    .readdirSync(testDir)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => path.join('dist-test', 'test', f));
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...options, ...files], { cwd: root, env, stdio: 'inherit' });
if (r.error) throw r.error;
process.exitCode = r.status ?? 1;
