// Issue 22's acceptance, as a CI pipeline runs it: a Node app checked out twice (other paths, other
// mtimes, node_modules written again as `npm ci` does) and built by `fastlayer node` on fresh runners
// (an empty local layer cache each) into the local docker-registry, with --cache-repo:
// - both checkouts give the same image digest, and the second push uploads no bytes at all;
// - after one app file changes, the only layer uploaded is the application layer;
// - --digest-file holds what skopeo reports; --image-refs names the image by that digest;
// - the SBOM (on by default for `node`) is found from the image digest through the referrers tag
//   fallback, validates against the SPDX 2.3 schema and lists every package of the lockfile.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, utimesSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { binMissing, runCliAsync } from '../helpers/cli.js';
import { tempDir } from '../helpers/tree.js';
import { validateSchema } from '../helpers/json-schema.js';
import { registryMissing, skopeoMissing, registryAndProxy } from '../helpers/registry.js';

const SCHEMA = JSON.parse(readFileSync(new URL('../../../test/fixtures/spdx-2.3-schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** Packages as npm installs them: name, version, files (a nested one under its parent's node_modules). */
const PACKAGES: { path: string; version: string; license: string; files: Record<string, string> }[] = [
  { path: 'node_modules/tiny-router', version: '1.4.2', license: 'MIT', files: { 'index.js': "module.exports = (routes) => (req, res) => (routes[req.url] ?? ((q, r) => { r.statusCode = 404; r.end('no'); }))(req, res);\n" } },
  { path: 'node_modules/@acme/log', version: '2.0.1', license: 'Apache-2.0', files: { 'index.js': 'module.exports = (...a) => console.log(new Date(0).toISOString(), ...a);\n' } },
  { path: 'node_modules/tiny-router/node_modules/path-parse', version: '0.9.0', license: 'ISC', files: { 'index.js': "module.exports = (p) => p.split('/');\n" } },
  { path: 'node_modules/kleur', version: '4.1.5', license: 'MIT', files: { 'index.js': 'module.exports = {};\n', 'colors.mjs': 'export default {};\n' } },
];

function packageName(path: string): string {
  return path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

/** A checkout of the app at `root`, every file's times set to `stamp` (another checkout, another time). */
function checkout(root: string, stamp: number, server = "res.end('hello from ' + process.env.NODE_ENV)"): void {
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'shop', version: '1.0.0', scripts: { start: 'node server.js' }, dependencies: { 'tiny-router': '^1.4.0', '@acme/log': '^2.0.0', kleur: '^4.1.0' } }, null, 2),
    'server.js': `const http = require('node:http');\nconst route = require('tiny-router');\nhttp.createServer(route({ '/': (req, res) => ${server} })).listen(8080);\n`,
    'lib/prices.js': 'module.exports = { apple: 3 };\n',
    'README.md': '# shop\n',
    '.dockerignore': 'README.md\n',
    '.git/HEAD': 'ref: refs/heads/main\n',
    '.npmrc': '//registry.npmjs.org/:_authToken=npm_secret_never_in_an_image\n',
  };
  const lockPackages: Record<string, unknown> = { '': { name: 'shop', version: '1.0.0', dependencies: { 'tiny-router': '^1.4.0', '@acme/log': '^2.0.0', kleur: '^4.1.0' } } };
  for (const p of PACKAGES) {
    const name = packageName(p.path);
    files[`${p.path}/package.json`] = JSON.stringify({ name, version: p.version, license: p.license, main: 'index.js' });
    for (const [f, body] of Object.entries(p.files)) files[`${p.path}/${f}`] = body;
    const tarball = createHash('sha512').update(`${name}@${p.version}`).digest('base64');
    lockPackages[p.path] = { version: p.version, resolved: `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${p.version}.tgz`, integrity: `sha512-${tarball}`, license: p.license };
  }
  files['package-lock.json'] = JSON.stringify({ name: 'shop', version: '1.0.0', lockfileVersion: 3, requires: true, packages: lockPackages }, null, 2);
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), body);
  }
  const touch = (p: string): void => {
    for (const name of readdirSync(p)) {
      const full = join(p, name);
      if (statSync(full).isDirectory()) touch(full);
      utimesSync(full, stamp, stamp);
    }
  };
  touch(root);
  utimesSync(root, stamp, stamp);
}

describe('acceptance (issue 22): a Node app built on fresh CI runners, with --cache-repo', { skip: binMissing() ?? registryMissing() }, () => {
  const tmp = tempDir('fastlayer-accept-node-');
  const served = registryAndProxy(() => tmp.remove());


  /** One CI job: a fresh runner (its own empty cache and Docker config), `fastlayer node DIR --push`. */
  async function job(name: string, dir: string, tag: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(tmp.path, `${name}-cache`), DOCKER_CONFIG: join(tmp.path, `${name}-docker`) };
    delete env['SOURCE_DATE_EPOCH'];
    const digestFile = join(tmp.path, `${name}.digest`);
    const refsFile = join(tmp.path, `${name}.refs`);
    const from = served.proxy.log.length;
    const patched = served.proxy.bytes['PATCH'] ?? 0;
    const r = await runCliAsync(['node', dir, '--push', `${served.proxy.host}/team/shop:${tag}`, '--cache-repo', `${served.proxy.host}/team/cache`, '--insecure', '--digest-file', digestFile, '--image-refs', refsFile, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /warning/);
    const requests = served.proxy.log.slice(from);
    // Blob uploads end in a PUT with ?digest=: the digests whose bytes were sent to team/shop.
    const uploaded = requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/v2/team/shop/blobs/uploads/')).map((q) => new URL(q.path, 'http://x').searchParams.get('digest'));
    const sessions = requests.filter((q) => q.path.startsWith('/v2/team/shop/blobs/uploads/'));
    return { digest: readFileSync(digestFile, 'utf8').trim(), refs: readFileSync(refsFile, 'utf8'), uploaded, sessions, patchBytes: (served.proxy.bytes['PATCH'] ?? 0) - patched, json: JSON.parse(r.stdout) as { digest: string } };
  }

  async function manifest(ref: string): Promise<{ layers: { digest: string }[]; config: { digest: string } }> {
    const res = await fetch(`http://${served.registry.host}/v2/team/shop/manifests/${ref}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(res.status, 200);
    return (await res.json()) as { layers: { digest: string }[]; config: { digest: string } };
  }

  it('two checkouts give one digest; the second runner uploads nothing; a code change uploads only the app layer; the SBOM is found', async () => {
    const a = join(tmp.path, 'checkout-a', 'shop');
    const b = join(tmp.path, 'checkout-b', 'work', 'shop');
    checkout(a, 1_700_000_000);
    checkout(b, 1_750_000_000);

    const first = await job('runner-1', a, 'build-1');
    assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(first.json.digest, first.digest);
    assert.equal(first.refs, `${served.proxy.host}/team/shop@${first.digest}\n`);
    const m1 = await manifest(first.digest);
    assert.equal(m1.layers.length, 2, 'dependencies, then the application');
    // The count below means something: the first runner's uploads are seen, both layers among them.
    assert.ok(m1.layers.every((l) => first.uploaded.includes(l.digest)) && first.patchBytes > 0, first.uploaded.join(' '));

    const second = await job('runner-2', b, 'build-2');
    assert.equal(second.digest, first.digest, 'same image from another checkout, other mtimes, another path');
    assert.deepEqual(second.sessions, [], 'no upload session (nor mount) by the second runner');
    assert.equal(second.patchBytes, 0, 'no PATCH bytes');

    if (skopeoMissing() === undefined) {
      const s = spawnSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${served.registry.host}/team/shop:build-2`], { encoding: 'buffer', timeout: 120_000 });
      assert.equal(s.status, 0, s.stderr.toString());
      assert.equal(`sha256:${createHash('sha256').update(s.stdout).digest('hex')}`, second.digest, 'the digest file names the manifest skopeo reads');
      const i = spawnSync('skopeo', ['inspect', '--tls-verify=false', `docker://${served.registry.host}/team/shop:build-2`], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(i.status, 0, i.stderr);
      assert.equal((JSON.parse(i.stdout) as { Digest: string }).Digest, second.digest);
    }

    // One application file changes: a new app layer, the same dependency layer, and nothing else sent but the config.
    writeFileSync(join(b, 'lib', 'prices.js'), 'module.exports = { apple: 4 };\n');
    const third = await job('runner-3', b, 'build-3');
    assert.notEqual(third.digest, first.digest);
    const m3 = await manifest(third.digest);
    assert.equal(m3.layers[0]!.digest, m1.layers[0]!.digest, 'the dependency layer is unchanged');
    assert.notEqual(m3.layers[1]!.digest, m1.layers[1]!.digest);
    const layersUploaded = third.uploaded.filter((d) => m3.layers.some((l) => l.digest === d));
    assert.deepEqual(layersUploaded, [m3.layers[1]!.digest], 'the application layer only');
    assert.deepEqual(third.uploaded.filter((d) => d !== m3.layers[1]!.digest && d !== m3.config.digest), [], `nothing else: ${third.uploaded.join(' ')}`);

    // The SBOM of the first image, through the sha256-<hex> tag (docker-registry has no referrers API).
    const tag = await fetch(`http://${served.registry.host}/v2/team/shop/manifests/sha256-${first.digest.slice(7)}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(tag.status, 200);
    const index = (await tag.json()) as { manifests: { digest: string; artifactType?: string }[] };
    const sboms = index.manifests.filter((d) => d.artifactType === 'application/spdx+json');
    assert.equal(sboms.length, 1);
    const artifact = (await (await fetch(`http://${served.registry.host}/v2/team/shop/manifests/${sboms[0]!.digest}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { subject: { digest: string }; layers: { digest: string }[] };
    assert.equal(artifact.subject.digest, first.digest);
    const doc = (await (await fetch(`http://${served.registry.host}/v2/team/shop/blobs/${artifact.layers[0]!.digest}`)).json()) as { packages: { name: string; versionInfo?: string; licenseDeclared?: string }[] };
    assert.deepEqual(validateSchema(SCHEMA, doc), []);
    for (const p of PACKAGES) {
      const found = doc.packages.find((q) => q.name === packageName(p.path) && q.versionInfo === p.version);
      assert.ok(found, `${packageName(p.path)}@${p.version} in the SBOM`);
      assert.equal(found.licenseDeclared, p.license);
    }
    // The same through the CLI.
    const listed = await runCliAsync(['inspect', `docker://${served.proxy.host}/team/shop@${first.digest}`, '--referrers', '--insecure', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { referrers: { digest: string }[] }).referrers.map((d) => d.digest), [sboms[0]!.digest]);

    // Nothing secret or ignored reached a layer: the app layer has no .npmrc, .git or README.md.
    const appLayer = await fetch(`http://${served.registry.host}/v2/team/shop/blobs/${m1.layers[1]!.digest}`);
    const listing = spawnSync('tar', ['-tz'], { input: Buffer.from(await appLayer.arrayBuffer()), encoding: 'utf8' });
    assert.equal(listing.status, 0, listing.stderr);
    const names = listing.stdout.split('\n');
    assert.ok(names.includes('app/server.js') && names.includes('app/lib/prices.js'), listing.stdout);
    assert.deepEqual(names.filter((n) => /\.npmrc|\.git\/|README\.md|node_modules/.test(n)), []);
  });
});

