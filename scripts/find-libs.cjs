#!/usr/bin/env node
// Prints build flags for binding.gyp: `cflags`, `libs` or `fingerprint`.
// - ISA-L: -lisal, or the static archive named by FASTLAYER_ISAL_LIB (path to libisal.a), with
//   headers from FASTLAYER_ISAL_INCLUDE when set.
// - zlib: always the static libz.a (FASTLAYER_ZLIB_LIB overrides the search), linked with
//   --exclude-libs so none of its symbols is exported or resolved against node's own zlib.
// - fingerprint: first 16 hex digits of a SHA-256 over the native sources and build inputs, so a
//   loaded addon can be matched to the sources it was built from.
'use strict';

const { createHash } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function fail(message) {
  process.stderr.write(`find-libs: ${message}\n`);
  process.exit(1);
}

function requireFile(file, what) {
  if (!fs.existsSync(file)) fail(`${what} not found: ${file}`);
  return file;
}

function findZlibArchive() {
  if (process.env.FASTLAYER_ZLIB_LIB) {
    return requireFile(process.env.FASTLAYER_ZLIB_LIB, 'FASTLAYER_ZLIB_LIB');
  }
  // Ask the compiler first: it knows the multiarch directory of the target.
  try {
    const cc = process.env.CC || 'cc';
    const found = execFileSync(cc, ['-print-file-name=libz.a'], { encoding: 'utf8' }).trim();
    if (path.isAbsolute(found) && fs.existsSync(found)) return found;
  } catch {
    // Fall through to the usual places.
  }
  const candidates = [
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libz.a`,
    '/usr/lib64/libz.a',
    '/usr/lib/libz.a',
    '/usr/local/lib/libz.a',
  ];
  const hit = candidates.find((f) => fs.existsSync(f));
  if (!hit) fail('static zlib (libz.a) not found; install zlib1g-dev or set FASTLAYER_ZLIB_LIB');
  return hit;
}

function cflags() {
  const flags = [];
  if (process.env.FASTLAYER_ISAL_INCLUDE) {
    flags.push(`-I${requireFile(process.env.FASTLAYER_ISAL_INCLUDE, 'FASTLAYER_ISAL_INCLUDE')}`);
  }
  return flags;
}

function libs() {
  const isal = process.env.FASTLAYER_ISAL_LIB
    ? requireFile(process.env.FASTLAYER_ISAL_LIB, 'FASTLAYER_ISAL_LIB')
    : '-lisal';
  // --exclude-libs,ALL turns every symbol taken from an archive into a local one.
  return ['-Wl,--exclude-libs,ALL', isal, findZlibArchive()];
}

function fingerprint() {
  const files = fs
    .readdirSync(path.join(root, 'native'))
    .map((name) => `native/${name}`)
    .filter((rel) => fs.statSync(path.join(root, rel)).isFile())
    .concat(['binding.gyp', 'scripts/find-libs.cjs'])
    .sort();
  const hash = createHash('sha256');
  for (const rel of files) {
    const body = fs.readFileSync(path.join(root, rel));
    // Name and length frame each file so that moving bytes between files changes the result.
    hash.update(`${rel}\0${body.length}\0`);
    hash.update(body);
  }
  return hash.digest('hex').slice(0, 16);
}

const commands = { cflags, libs, fingerprint: () => [fingerprint()] };
const command = process.argv[2];
if (!Object.hasOwn(commands, command)) fail(`usage: find-libs.cjs ${Object.keys(commands).join('|')}`);
process.stdout.write(`${commands[command]().join(' ')}\n`);
