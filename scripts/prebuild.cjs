#!/usr/bin/env node
// npm runs a script named "prebuild" as the pre-hook of every `npm run build` (and so of `npm test`),
// with the same environment as `npm run prebuild`. Rebuilding the committed binary there would be slow
// and would hide a stale prebuild, so only a deliberate `npm run prebuild` does it: its own pre-hook
// ("preprebuild", which npm runs only when prebuild is invoked by name) calls this script with
// --request, leaving a marker that the "prebuild" step consumes. Plain Node, so `npm run build` works
// on every platform, also where bash is missing.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const marker = path.join(root, '.cache', 'prebuild-requested');

if (process.argv[2] === '--request') {
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.writeFileSync(marker, `${process.pid}\n`);
  process.exit(0);
}

if (!fs.existsSync(marker)) {
  console.log('prebuild: skipped (pre-hook of `npm run build`); `npm run prebuild` rebuilds the committed prebuild');
  process.exit(0);
}
fs.rmSync(marker, { force: true });
const r = spawnSync('bash', [path.join(root, 'scripts', 'prebuild.sh')], { stdio: 'inherit' });
if (r.error) {
  console.error(`prebuild: cannot run bash: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
