#!/usr/bin/env node
// Prints build flags for binding.gyp: `cflags`, `libs` or `fingerprint`.
// - ISA-L: pkg-config libisal (else -lisal when the compiler finds it), or the static archive named by
//   FASTLAYER_ISAL_LIB (path to libisal.a), with headers from FASTLAYER_ISAL_INCLUDE when set.
// - Missing packages: the error names what to install on each platform.
// - zlib: always the static libz.a (FASTLAYER_ZLIB_LIB overrides the search), linked with
//   --exclude-libs so none of its symbols is exported or resolved against node's own zlib.
// - zstd: the same for libzstd.a (FASTLAYER_ZSTD_LIB overrides the search): node bundles its own
//   libzstd too, and the bytes of a zstd layer depend on the libzstd version linked.
// - fingerprint: first 16 hex digits of a SHA-256 over the native sources and build inputs, so a
//   loaded addon can be matched to the sources it was built from.
'use strict';

const { createHash } = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

// gyp prints our stderr when a `<!@(...)` command fails, so a missing package is named right there.
const INSTALL_HINT = [
  'Install a C++ compiler and the ISA-L, zlib and zstd development packages, then build again:',
  '  Debian/Ubuntu: apt-get install build-essential pkg-config libisal-dev zlib1g-dev libzstd-dev',
  '  Fedora/RHEL:   dnf install gcc-c++ make pkgconf-pkg-config isa-l-devel zlib-devel zlib-static libzstd-devel libzstd-static',
  '  Alpine:        apk add build-base pkgconf isa-l-dev zlib-dev zlib-static zstd-dev zstd-static',
  '  macOS:         brew install pkg-config isa-l zlib zstd',
  'or point the build at them: FASTLAYER_ISAL_LIB=/path/libisal.a FASTLAYER_ISAL_INCLUDE=/path/include',
  'FASTLAYER_ZLIB_LIB=/path/libz.a FASTLAYER_ZSTD_LIB=/path/libzstd.a (headers next to it in ../include',
  'or on the default include path). On linux-x64 (glibc) no build is needed: the package ships a prebuilt',
  'addon that `npm install` uses unless --build-from-source is given.',
].join('\n');

function fail(message) {
  process.stderr.write(`find-libs: ${message}\n`);
  process.exit(1);
}

function missing(message) {
  fail(`${message}\n${INSTALL_HINT}`);
}

/** pkg-config's answer, or undefined when pkg-config or the module is missing. */
function pkgConfig(args) {
  try {
    const out = execFileSync(process.env.PKG_CONFIG || 'pkg-config', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim();
  } catch {
    return undefined;
  }
}

/** The compiler's own search (it knows the multiarch directories), or undefined. */
function compilerFile(name) {
  try {
    const cc = process.env.CC || 'cc';
    const found = execFileSync(cc, [`-print-file-name=${name}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return path.isAbsolute(found) && fs.existsSync(found) ? found : undefined;
  } catch {
    return undefined;
  }
}

const INCLUDE_DIRS = ['/usr/include', '/usr/local/include', '/opt/homebrew/include'];

function requireFile(file, what) {
  if (!fs.existsSync(file)) missing(`${what} points to a missing file: ${file}`);
  return file;
}

function findZlibArchive() {
  if (process.env.FASTLAYER_ZLIB_LIB) {
    return requireFile(process.env.FASTLAYER_ZLIB_LIB, 'FASTLAYER_ZLIB_LIB');
  }
  const libdir = pkgConfig(['--variable=libdir', 'zlib']);
  const candidates = [
    libdir && path.join(libdir, 'libz.a'),
    compilerFile('libz.a'),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libz.a`,
    '/usr/lib64/libz.a',
    '/usr/lib/libz.a',
    '/usr/local/lib/libz.a',
  ];
  const hit = candidates.find((f) => f && fs.existsSync(f));
  if (!hit) missing('static zlib (libz.a) not found (searched pkg-config zlib, the compiler, /usr/lib*).');
  return hit;
}

function findZstdArchive() {
  if (process.env.FASTLAYER_ZSTD_LIB) {
    return requireFile(process.env.FASTLAYER_ZSTD_LIB, 'FASTLAYER_ZSTD_LIB');
  }
  const libdir = pkgConfig(['--variable=libdir', 'libzstd']);
  const candidates = [
    libdir && path.join(libdir, 'libzstd.a'),
    compilerFile('libzstd.a'),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libzstd.a`,
    '/usr/lib64/libzstd.a',
    '/usr/lib/libzstd.a',
    '/usr/local/lib/libzstd.a',
    '/opt/homebrew/lib/libzstd.a',
  ];
  const hit = candidates.find((f) => f && fs.existsSync(f));
  if (!hit) {
    missing('static zstd (libzstd.a) not found (searched pkg-config libzstd, the compiler, /usr/lib*): package libzstd-dev.');
  }
  return hit;
}

/** -I for zstd.h: next to FASTLAYER_ZSTD_LIB's archive (../include), else pkg-config or the default path. */
function zstdCflags() {
  if (process.env.FASTLAYER_ZSTD_LIB) {
    const dir = path.join(path.dirname(process.env.FASTLAYER_ZSTD_LIB), '..', 'include');
    if (fs.existsSync(path.join(dir, 'zstd.h'))) return [`-I${dir}`];
  }
  const fromPkgConfig = pkgConfig(['--cflags', 'libzstd']);
  if (fromPkgConfig !== undefined) return fromPkgConfig.split(/\s+/).filter(Boolean);
  if (!INCLUDE_DIRS.some((dir) => fs.existsSync(path.join(dir, 'zstd.h')))) {
    missing(`zstd.h not found (pkg-config libzstd failed; searched ${INCLUDE_DIRS.join(', ')}): package libzstd-dev.`);
  }
  return [];
}

function cflags() {
  return [...isalZlibCflags(), ...zstdCflags()];
}

function isalZlibCflags() {
  if (process.env.FASTLAYER_ISAL_INCLUDE) {
    return [`-I${requireFile(process.env.FASTLAYER_ISAL_INCLUDE, 'FASTLAYER_ISAL_INCLUDE')}`];
  }
  const fromPkgConfig = pkgConfig(['--cflags', 'libisal', 'zlib']);
  if (fromPkgConfig !== undefined) return fromPkgConfig.split(/\s+/).filter(Boolean);
  // No pkg-config (or no .pc file): the headers may still be where the compiler looks by default.
  for (const header of ['isa-l.h', 'zlib.h']) {
    if (!INCLUDE_DIRS.some((dir) => fs.existsSync(path.join(dir, header)))) {
      missing(`${header} not found (pkg-config libisal zlib failed; searched ${INCLUDE_DIRS.join(', ')}).`);
    }
  }
  return [];
}

function findIsal() {
  if (process.env.FASTLAYER_ISAL_LIB) {
    return [requireFile(process.env.FASTLAYER_ISAL_LIB, 'FASTLAYER_ISAL_LIB')];
  }
  const fromPkgConfig = pkgConfig(['--libs', 'libisal']);
  if (fromPkgConfig) return fromPkgConfig.split(/\s+/).filter(Boolean);
  if (compilerFile('libisal.so') || compilerFile('libisal.a') || compilerFile('libisal.dylib')) return ['-lisal'];
  return missing('ISA-L (libisal) not found (pkg-config libisal failed and the compiler does not find libisal).');
}

function libs() {
  // --exclude-libs,ALL turns every symbol taken from an archive into a local one. macOS's ld64 has no
  // such flag; there the two-level namespace already binds each symbol to the image it came from.
  const hide = process.platform === 'darwin' ? [] : ['-Wl,--exclude-libs,ALL'];
  return [...hide, ...findIsal(), findZlibArchive(), findZstdArchive()];
}

const SOURCE_FILE = /\.(cc|h)$/;

function fingerprint() {
  // The core (native/core/, no Node) and the Node-API boundary (native/addon/).
  const files = ['native/core', 'native/addon']
    .flatMap((dir) => fs.readdirSync(path.join(root, dir))
      // Sources only: a scratch binary or editor file left in native/ must not make the prebuild stale
      // (the npm package ships the same selection, see package.json "files").
      .filter((name) => SOURCE_FILE.test(name))
      .map((name) => `${dir}/${name}`))
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
