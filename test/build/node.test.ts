// buildNodeImage (`fastlayer node`): a Node project becomes a dependency layer and an application
// layer under /app, reproducible across checkouts and installs, with the command from package.json.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNodeImage, nodeCommand } from '../../src/build/node.js';
import { listLayer, tempDir, type LayerEntry } from '../helpers/image.js';

interface Built { config: { config: Record<string, unknown> }; layers: LayerEntry[][]; digests: string[]; digest: string }

async function readLayout(dir: string): Promise<Built> {
  const blob = (d: string) => join(dir, 'blobs', 'sha256', d.slice(7));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  const layers = [];
  for (const l of manifest.layers) layers.push(await listLayer(blob(l.digest)));
  return { config, layers, digests: manifest.layers.map((l: { digest: string }) => l.digest), digest: index.manifests[0].digest };
}

function project(root: string, start = 'node server.js --port 8080'): void {
  mkdirSync(join(root, 'node_modules', 'dep', 'lib'), { recursive: true });
  mkdirSync(join(root, 'lib'), { recursive: true });
  mkdirSync(join(root, '.git'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', main: 'lib/index.js', scripts: { start } }));
  writeFileSync(join(root, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, packages: {} }));
  writeFileSync(join(root, 'node_modules', 'dep', 'package.json'), '{"name":"dep","version":"2.0.0"}');
  writeFileSync(join(root, 'node_modules', 'dep', 'lib', 'index.js'), 'module.exports = 1;\n');
  writeFileSync(join(root, 'server.js'), 'require("dep");\n');
  writeFileSync(join(root, 'lib', 'index.js'), 'exports.x = 1;\n');
  writeFileSync(join(root, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  writeFileSync(join(root, '.npmrc'), '//registry.npmjs.org/:_authToken=npm_SECRET\n');
  writeFileSync(join(root, 'debug.log'), 'noise\n');
  // A .dockerignore written for `docker build` (which installs dependencies itself).
  writeFileSync(join(root, '.dockerignore'), '*.log\nnode_modules\n!node_modules\n');
}

const names = (entries: LayerEntry[]) => entries.map((e) => e.name).sort();

describe('buildNodeImage', () => {
  const tmp = tempDir('fastlayer-node-');
  after(() => tmp.remove());

  it('puts package.json, the lockfile and node_modules in one layer and the application in the next', async () => {
    const dir = join(tmp.path, 'p1');
    project(dir);
    const out = join(tmp.path, 'oci1');
    await buildNodeImage({ dir, tags: ['app:1'], ociDir: out });
    const built = await readLayout(out);
    assert.deepEqual(names(built.layers[0]!), [
      'app', 'app/node_modules', 'app/node_modules/dep', 'app/node_modules/dep/lib', 'app/node_modules/dep/lib/index.js',
      'app/node_modules/dep/package.json', 'app/package-lock.json', 'app/package.json',
    ]);
    assert.deepEqual(names(built.layers[1]!), ['app', 'app/.dockerignore', 'app/lib', 'app/lib/index.js', 'app/server.js'],
      '.git, .npmrc, node_modules, the dependency files and what .dockerignore names stay out');
    const c = built.config.config;
    assert.equal(c.WorkingDir, '/app');
    assert.deepEqual(c.Env, ['NODE_ENV=production']);
    assert.deepEqual(c.Cmd, ['node', 'server.js', '--port', '8080']);
    for (const layer of built.layers) for (const e of layer) assert.equal(e.mtime, 0, `${e.name}: entry times are fixed by default`);
  });

  it('gives the same digests for another checkout with other mtimes (a fresh npm ci), and a new app layer only when the code changes', async () => {
    const a = join(tmp.path, 'ra');
    const b = join(tmp.path, 'rb');
    project(a);
    cpSync(a, b, { recursive: true });
    for (const f of ['package.json', 'server.js', 'node_modules/dep/lib/index.js']) utimesSync(join(b, f), 1_000_000, 2_000_000_000);
    const oa = join(tmp.path, 'oa');
    const ob = join(tmp.path, 'ob');
    await buildNodeImage({ dir: a, tags: ['app:1'], ociDir: oa });
    await buildNodeImage({ dir: b, tags: ['app:1'], ociDir: ob });
    const [ra, rb] = [await readLayout(oa), await readLayout(ob)];
    assert.equal(rb.digest, ra.digest);
    writeFileSync(join(b, 'server.js'), 'require("dep"); // changed\n');
    const oc = join(tmp.path, 'oc');
    await buildNodeImage({ dir: b, tags: ['app:1'], ociDir: oc });
    const rc = await readLayout(oc);
    assert.equal(rc.digests[0], ra.digests[0], 'the dependency layer is unchanged');
    assert.notEqual(rc.digests[1], ra.digests[1]);
  });

  it('takes the command from a plain node start script, else main, else asks for one', async () => {
    assert.deepEqual(nodeCommand({ scripts: { start: 'node --enable-source-maps dist/main.js' } }), ['node', '--enable-source-maps', 'dist/main.js']);
    assert.deepEqual(nodeCommand({ scripts: { start: 'npm run build && node x.js' }, main: 'x.js' }), ['node', 'x.js']);
    assert.deepEqual(nodeCommand({ scripts: { start: 'node "$FILE"' }, main: 'm.js' }), ['node', 'm.js']);
    assert.deepEqual(nodeCommand({ scripts: { start: 'NODE_OPTIONS=x node a.js' } }), undefined);
    assert.deepEqual(nodeCommand({ scripts: { start: 'node' } }), undefined);
    assert.deepEqual(nodeCommand({}), undefined);
    const dir = join(tmp.path, 'nocmd');
    project(dir, 'next start');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', scripts: { start: 'next start' } }));
    await assert.rejects(buildNodeImage({ dir, tags: ['x:1'], ociDir: join(tmp.path, 'nocmd-out') }), { code: 'ERR_OPTION_OUT_OF_RANGE', message: /cmd/ });
    const out = join(tmp.path, 'given');
    await buildNodeImage({ dir, tags: ['x:1'], ociDir: out, cmd: ['node', 'other.js'], env: ['NODE_ENV=staging', 'A=1'] });
    const c = (await readLayout(out)).config.config;
    assert.deepEqual(c.Cmd, ['node', 'other.js']);
    assert.deepEqual(c.Env, ['NODE_ENV=staging', 'A=1'], 'the caller\'s env wins over the default');
  });

  it('hazard: a package.json that is a symlink, missing, or not an object is a coded error before anything is written', async () => {
    const dir = join(tmp.path, 'hostile');
    mkdirSync(dir);
    await assert.rejects(buildNodeImage({ dir, tags: ['x:1'], ociDir: join(tmp.path, 'h1') }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    symlinkSync('/etc/passwd', join(dir, 'package.json'));
    await assert.rejects(buildNodeImage({ dir, tags: ['x:1'], ociDir: join(tmp.path, 'h2') }), { code: 'ERR_OPTION_OUT_OF_RANGE', message: /symlink/ });
    const dir2 = join(tmp.path, 'hostile2');
    mkdirSync(dir2);
    writeFileSync(join(dir2, 'package.json'), '[1]');
    await assert.rejects(buildNodeImage({ dir: dir2, tags: ['x:1'], ociDir: join(tmp.path, 'h3') }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    await assert.rejects(buildNodeImage({ dir: dir2, tags: ['x:1'], ociDir: join(tmp.path, 'h4'), appDir: 'app' }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => readFileSync(join(tmp.path, 'h2', 'index.json')), { code: 'ENOENT' });
  });

  it('hazard: the build`s exclude leaves paths out of the dependency layer too, and no `!` there puts other files into it', async () => {
    const dir = join(tmp.path, 'excluded');
    project(dir);
    mkdirSync(join(dir, 'node_modules', '.cache'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', '.cache', 'big.bin'), 'cached build output\n');
    writeFileSync(join(dir, 'node_modules', 'dep', '.env'), 'AWS_SECRET_ACCESS_KEY=hunter2\n');
    const out = join(tmp.path, 'oci-excluded');
    // `!lib` takes lib back in the application layer only: the dependency layer never holds code.
    await buildNodeImage({ dir, tags: ['app:1'], ociDir: out, exclude: ['node_modules/.cache', '**/.env', 'package-lock.json', '!lib'] });
    const built = await readLayout(out);
    assert.deepEqual(names(built.layers[0]!), [
      'app', 'app/node_modules', 'app/node_modules/dep', 'app/node_modules/dep/lib', 'app/node_modules/dep/lib/index.js',
      'app/node_modules/dep/package.json', 'app/package.json',
    ]);
    assert.deepEqual(names(built.layers[1]!), ['app', 'app/.dockerignore', 'app/lib', 'app/lib/index.js', 'app/server.js']);
  });
});
