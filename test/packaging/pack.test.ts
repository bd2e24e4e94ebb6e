// `npm pack` ships what a user needs and nothing else, and the tarball installs and runs the native
// engine offline on a machine with no compiler, no libisal and no zlib shared library.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { cleanEnv, onLinuxX64, root, tool } from '../helpers/packaging.js';

const skip = onLinuxX64 ? false : 'the install test needs the linux-x64 prebuild';
let work = '';
let tarball = '';
let files: string[] = [];

/** npm's own variables would leak the outer `npm test` into the nested npm: drop them. */
function npmFreeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv();
  for (const name of Object.keys(env)) {
    if (/^npm_/i.test(name) || name === 'INIT_CWD') delete env[name];
  }
  return { ...env, ...extra };
}

function findOnPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return realpathSync(candidate);
  }
  throw new Error(`${name} is not on PATH`);
}

before(() => {
  // --ignore-scripts: pack the dist/ that pretest built instead of rebuilding it (prepare) mid-suite.
  assert.ok(existsSync(join(root, 'dist', 'index.js')), 'dist/ is not built: run npm run build:ts first');
  work = mkdtempSync(join(tmpdir(), 'fastlayer-pack-'));
  const out = tool('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, env: npmFreeEnv() });
  const report = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, report[0]!.filename);
  files = report[0]!.files.map((f) => f.path).sort();
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the tarball holds dist/, types, prebuilds and the native sources, and nothing else', () => {
  const allowed = (path: string): boolean =>
    ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'scripts/find-libs.cjs'].includes(path) ||
    /^(dist|prebuilds|native)\//.test(path);
  assert.deepEqual(files.filter((path) => !allowed(path)), [], 'unexpected files in the tarball');
  assert.deepEqual(files.filter((path) => /\.test\.|\.map$|\.tsbuildinfo$/.test(path)), []);
  const required = ['package.json', 'binding.gyp', 'scripts/find-libs.cjs', 'dist/index.js', 'dist/index.d.ts', 'dist/engine/native.js', 'dist/cli/main.js'];
  if (onLinuxX64) required.push('prebuilds/linux-x64/fastlayer.glibc.node');
  const nativeSources = tool('git', ['ls-files', 'native'], { cwd: root }).split('\n').filter(Boolean);
  assert.ok(nativeSources.length > 3, 'no native sources tracked by git');
  for (const path of [...required, ...nativeSources]) assert.ok(files.includes(path), `${path} is missing from the tarball`);
  const tracked = new Set(tool('git', ['ls-files', 'native', 'prebuilds'], { cwd: root }).split('\n'));
  for (const path of files.filter((p) => /^(native|prebuilds)\//.test(p))) {
    assert.ok(tracked.has(path), `${path} is in the tarball but not in git (a stray build output?)`);
  }
});

/** Runs argv with libisal and libz hidden (bind-mounted over by /dev/null) when the kernel lets us. */
function hiddenLibsCommand(argv: string[]): { argv: string[]; hidden: string[] } {
  // Absolute paths: the commands run with a PATH that holds only node and npm.
  let unshare: string;
  let mount: string;
  try {
    unshare = findOnPath('unshare');
    mount = findOnPath('mount');
  } catch {
    return { argv, hidden: [] };
  }
  const probe = spawnSync(unshare, ['-m', '--propagation', 'private', 'true']);
  if (probe.status !== 0) return { argv, hidden: [] };
  const hidden = new Set<string>();
  for (const dir of ['/lib', '/lib64', '/usr/lib', '/usr/lib64', '/usr/local/lib', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names.filter((n) => /^lib(isal|z)\.so/.test(n))) hidden.add(realpathSync(join(dir, name)));
  }
  const mounts = [...hidden].map((file) => `${mount} --bind /dev/null '${file}'`).join(' && ');
  const script = `${mounts || 'true'} && exec "$@"`;
  return { argv: [unshare, '-m', '--propagation', 'private', '/bin/sh', '-c', script, 'sh', ...argv], hidden: [...hidden] };
}

const RUN = `
import { Layer } from 'fastlayer';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
const { loadNative } = await import(new URL('./node_modules/fastlayer/dist/engine/native.js', import.meta.url));
const input = Buffer.alloc(700_000);
for (let i = 0, x = 1; i < input.length; i++) { x = (x * 1103515245 + 12345) >>> 0; input[i] = 97 + ((x >>> 24) % 7); }
const layer = new Layer(input, { compressionLevel: 1 });
const chunks = [];
for await (const chunk of layer.compressed()) chunks.push(chunk);
const out = Buffer.concat(chunks);
const values = await layer.done;
const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const loaded = loadNative();
console.log(JSON.stringify({
  engine: layer.engine.name, kind: loaded.kind, path: loaded.path,
  roundTrip: gunzipSync(out).equals(input), digestOk: values.digest.toString() === sha(out),
  diffIDOk: values.diffID.toString() === sha(input), sizeOk: values.size === out.length,
}));
`;

test('the tarball installs offline with no compiler, no libisal, no libz, and runs on the native engine', { skip, timeout: 300_000 }, (t) => {
  const proj = join(work, 'project');
  const bin = join(work, 'bin');
  mkdirSync(proj);
  mkdirSync(bin);
  // PATH is only node, npm and sh (npm runs scripts with it): no cc, gcc, g++, make or python, so
  // nothing can be compiled.
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(findOnPath('npm'), join(bin, 'npm'));
  symlinkSync(findOnPath('sh'), join(bin, 'sh'));
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(proj, 'run.mjs'), RUN);
  // The runtime dependencies come from this checkout (every non-dev package of the lock file), packed
  // locally, so the install needs no network and no npm cache; an unroutable registry makes any
  // attempted download fail at once.
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const runtime = Object.entries(lock.packages).filter(([path, p]) => path.startsWith('node_modules/') && !p.dev).map(([path]) => join(root, path));
  const depOut = tool('npm', ['pack', '--json', '--pack-destination', work, ...runtime], {
    cwd: work,
    env: npmFreeEnv(),
  });
  const deps = (JSON.parse(depOut.slice(depOut.indexOf('['))) as { filename: string }[]).map((d) => join(work, d.filename));
  const env = npmFreeEnv({
    PATH: bin,
    npm_config_cache: join(work, 'npm-cache'),
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_update_notifier: 'false',
  });
  const install = hiddenLibsCommand([join(bin, 'npm'), 'install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', ...deps, tarball]);
  t.diagnostic(install.hidden.length ? `hidden: ${install.hidden.join(', ')}` : 'unshare unavailable: libraries not hidden, LD_DEBUG check only');
  const [cmd, ...args] = install.argv;
  tool(cmd!, args, { cwd: proj, env });
  assert.ok(existsSync(join(proj, 'node_modules', 'fastlayer', 'prebuilds', 'linux-x64', 'fastlayer.glibc.node')));
  assert.ok(!existsSync(join(proj, 'node_modules', 'fastlayer', 'build')), 'the install compiled something');

  // The same environment cannot build from source, so the success above came from the prebuild.
  const rebuild = hiddenLibsCommand([join(bin, 'npm'), 'rebuild', 'fastlayer', '--build-from-source']);
  const failed = spawnSync(rebuild.argv[0]!, rebuild.argv.slice(1), { cwd: proj, env, encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(failed.status, 0, 'a source build succeeded without a compiler on PATH?');
  rmSync(join(proj, 'node_modules', 'fastlayer', 'build'), { recursive: true, force: true });

  const run = hiddenLibsCommand([join(bin, 'node'), 'run.mjs']);
  const ran = spawnSync(run.argv[0]!, run.argv.slice(1), {
    cwd: proj,
    env: { ...env, FASTLAYER_ENGINE: 'native', LD_DEBUG: 'libs' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(ran.status, 0, ran.stderr.split('\n').filter((l) => !/^\s*\d+:/.test(l)).join('\n'));
  const result = JSON.parse(ran.stdout) as Record<string, unknown>;
  assert.deepEqual(result, {
    engine: 'native',
    kind: 'prebuild',
    path: join(realpathSync(proj), 'node_modules', 'fastlayer', 'prebuilds', 'linux-x64', 'fastlayer.glibc.node'),
    roundTrip: true,
    digestOk: true,
    diffIDOk: true,
    sizeOk: true,
  });
  // The dynamic loader's own log: the addon was loaded and pulled in neither libisal nor libz.
  assert.match(ran.stderr, /fastlayer\.glibc\.node/);
  assert.doesNotMatch(ran.stderr, /libisal|libz\.so/);

  // The installed CLI picks the native engine by itself, without a fallback warning.
  mkdirSync(join(proj, 'data', 'sub'), { recursive: true });
  writeFileSync(join(proj, 'data', 'a.txt'), 'layer '.repeat(50_000));
  writeFileSync(join(proj, 'data', 'sub', 'b.bin'), Buffer.alloc(300_000, 7));
  const cli = hiddenLibsCommand([join(proj, 'node_modules', '.bin', 'fastlayer'), join(proj, 'data')]);
  const described = spawnSync(cli.argv[0]!, cli.argv.slice(1), { cwd: proj, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(described.status, 0, described.stderr);
  const descriptor = JSON.parse(described.stdout) as { digest: string; size: number; engine: { name: string } };
  assert.equal(descriptor.engine.name, 'native');
  assert.match(descriptor.digest, /^sha256:[0-9a-f]{64}$/);
  assert.ok(descriptor.size > 0);
  assert.doesNotMatch(described.stderr, /FASTLAYER_NATIVE_FALLBACK/);
});
