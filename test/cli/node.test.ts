// `fastlayer node [DIR]`: the CLI form of buildNodeImage, with image's flags and outputs; and the
// image runs: podman (vfs storage) starts it on a base holding this machine's node, and the server
// answers an HTTP request.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildImage } from '../../src/build/build.js';
import { binMissing, oneErrorLine, runCli } from '../helpers/cli.js';
import { listLayer, missing, tempDir } from '../helpers/image.js';

function project(root: string, start = 'node server.js'): void {
  mkdirSync(join(root, 'node_modules', 'greeting'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'hello', version: '1.0.0', scripts: { start } }));
  writeFileSync(join(root, 'package-lock.json'), JSON.stringify({ name: 'hello', lockfileVersion: 3, packages: { '': { name: 'hello' }, 'node_modules/greeting': { version: '1.0.0' } } }));
  writeFileSync(join(root, 'node_modules', 'greeting', 'package.json'), '{"name":"greeting","version":"1.0.0","main":"index.js"}');
  writeFileSync(join(root, 'node_modules', 'greeting', 'index.js'), 'module.exports = (who) => `hello ${who} from ${process.env.NODE_ENV}`;\n');
  // The server answers one request (its own), prints the answer and exits: a run that needs no port
  // published from the container.
  writeFileSync(join(root, 'server.js'), [
    "const http = require('node:http');",
    "const greeting = require('greeting');",
    "const server = http.createServer((req, res) => res.end(greeting(req.url.slice(1))));",
    'server.listen(0, () => {',
    "  http.get({ port: server.address().port, path: '/world' }, (res) => {",
    "    let body = ''; res.on('data', (c) => { body += c; });",
    "    res.on('end', () => { console.log(`answer: ${body} (cwd ${process.cwd()})`); server.close(); });",
    '  });',
    '});',
    '',
  ].join('\n'));
}

const skip = binMissing();

describe('fastlayer node', { skip }, () => {
  const tmp = tempDir('fastlayer-cli-node-');
  after(() => tmp.remove());

  it('writes the two layers and the config of a project given as DIR, with image\'s outputs and flags', async () => {
    const dir = join(tmp.path, 'app');
    project(dir);
    const out = join(tmp.path, 'oci');
    const r = runCli(['node', dir, '--oci-dir', out, '--tag', 'hello:1', '--app-dir', '/srv/app', '--expose', '8080', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.toString());
    const blob = (d: string) => join(out, 'blobs', 'sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(blob(result.digest), 'utf8'));
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')).config;
    assert.equal(config.WorkingDir, '/srv/app');
    assert.deepEqual(config.Cmd, ['node', 'server.js']);
    assert.deepEqual(config.Env, ['NODE_ENV=production']);
    assert.deepEqual(config.ExposedPorts, { '8080/tcp': {} });
    assert.equal(manifest.layers.length, 2);
    const deps = (await listLayer(blob(manifest.layers[0].digest))).map((e) => e.name);
    assert.ok(deps.includes('srv/app/node_modules/greeting/index.js') && deps.includes('srv/app/package-lock.json'));
    assert.ok(!deps.includes('srv/app/server.js'));
    const app = (await listLayer(blob(manifest.layers[1].digest))).map((e) => e.name);
    assert.ok(app.includes('srv/app/server.js') && !app.some((n) => n.includes('node_modules')));
  });

  it('an SBOM by default when the project has a lockfile, as a referrer of the image; --no-sbom: none; --sbom without one: an error, nothing written', () => {
    const dir = join(tmp.path, 'sbom');
    project(dir);
    const referrers = (out: string, subject: string) => {
      const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
      return (index.manifests as { artifactType?: string; digest: string }[]).filter((m) => m.artifactType !== undefined).map((m) => {
        const manifest = JSON.parse(readFileSync(join(out, 'blobs', 'sha256', m.digest.slice(7)), 'utf8'));
        assert.equal(manifest.subject.digest, subject);
        const doc = JSON.parse(readFileSync(join(out, 'blobs', 'sha256', manifest.layers[0].digest.slice(7)), 'utf8'));
        return { artifactType: m.artifactType, packages: (doc.packages as { name: string }[]).map((p) => p.name) };
      });
    };
    const on = join(tmp.path, 'sbom-on');
    const r = runCli(['node', dir, '--oci-dir', on, '--tag', 'hello:1', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const found = referrers(on, JSON.parse(r.stdout.toString()).digest);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.artifactType, 'application/spdx+json');
    assert.ok(found[0]!.packages.includes('greeting'), found[0]!.packages.join(' '));

    const off = join(tmp.path, 'sbom-off');
    const r2 = runCli(['node', dir, '--oci-dir', off, '--tag', 'hello:1', '--no-sbom', '--json']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual(referrers(off, JSON.parse(r2.stdout.toString()).digest), []);
    assert.equal(JSON.parse(r2.stdout.toString()).digest, JSON.parse(r.stdout.toString()).digest, 'the image itself is the same');

    const bare = join(tmp.path, 'sbom-bare');
    project(bare);
    rmSync(join(bare, 'package-lock.json'));
    const auto = join(tmp.path, 'sbom-auto');
    const r3 = runCli(['node', bare, '--oci-dir', auto, '--tag', 'hello:1', '--json']);
    assert.equal(r3.status, 0, r3.stderr);
    assert.deepEqual(referrers(auto, JSON.parse(r3.stdout.toString()).digest), []);
    const forced = join(tmp.path, 'sbom-forced');
    const r4 = runCli(['node', bare, '--oci-dir', forced, '--tag', 'hello:1', '--sbom']);
    assert.notEqual(r4.status, 0);
    assert.match(r4.stderr, /package-lock\.json/);
    assert.equal(existsSync(forced), false, 'nothing written');
    assert.equal(runCli(['node', dir, '--oci-dir', forced, '--tag', 'x:1', '--sbom', '--no-sbom']).status, 2);
  });

  it('usage errors: --layer is not its flag, two directories, a relative --app-dir, no start command', () => {
    const dir = join(tmp.path, 'usage');
    project(dir, 'next start');
    const out = join(tmp.path, 'usage-out');
    for (const args of [
      ['node', dir, '--layer', dir, '--oci-dir', out, '--tag', 'x:1'],
      ['node', dir, dir, '--oci-dir', out, '--tag', 'x:1'],
      ['node', dir, '--app-dir', 'app', '--oci-dir', out, '--tag', 'x:1'],
      ['node', dir, '--oci-dir', out, '--tag', 'x:1'],
    ]) {
      const r = runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(oneErrorLine(r.stderr) ?? '', /^fastlayer( node)?: .*(node|--app-dir|--cmd|argument|directory)/);
    }
    assert.match(runCli(['node', dir, '--oci-dir', out, '--tag', 'x:1']).stderr, /give --cmd/);
    assert.equal(runCli(['node', dir, '--oci-dir', out, '--tag', 'x:1', '--cmd', '["node","other.js"]']).status, 0);
  });

  it('the image runs: podman starts it on a base holding this node, and the server answers', { skip: missing('podman', 'ldd') }, async () => {
    // The base: this machine's node binary and the libraries it links (ldd), nothing else.
    const root = join(tmp.path, 'rootfs');
    const files = [process.execPath];
    const ldd = spawnSync('ldd', [process.execPath], { encoding: 'utf8' }).stdout;
    for (const m of ldd.matchAll(/(\/\S+\.so[^\s]*)/g)) files.push(m[1]!);
    for (const f of files) {
      const to = join(root, f === process.execPath ? '/usr/local/bin/node' : f);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(f, to);
    }
    mkdirSync(join(root, 'tmp'));
    const base = join(tmp.path, 'base');
    await buildImage({ layers: [root], tags: ['base:1'], ociDir: base, env: ['PATH=/usr/local/bin:/usr/bin:/bin'] });
    const dir = join(tmp.path, 'run');
    project(dir);
    const archive = join(tmp.path, 'hello.tar');
    const r = runCli(['node', dir, '--base', base, '--output', archive, '--tag', 'localhost/hello:1']);
    assert.equal(r.status, 0, r.stderr);
    const podman = ['--root', join(tmp.path, 'podman-root'), '--runroot', join(tmp.path, 'podman-run'), '--storage-driver', 'vfs'];
    const load = spawnSync('podman', [...podman, 'load', '-i', archive], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(load.status, 0, load.stderr);
    const run = spawnSync('podman', [...podman, 'run', '--rm', '--network', 'none', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096', 'localhost/hello:1'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /answer: hello world from production \(cwd \/app\)/);
  });
});
