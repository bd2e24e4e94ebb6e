// `fastlayer image`: the layer cache on by default (--no-layer-cache leaves the cache directory alone),
// and --cache-repo: a second runner with an empty local cache pushes an unchanged tree without uploads.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binMissing, runCli, runCliAsync } from '../helpers/cli.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { registryMissing, registryAndProxy, startProxy, startRegistry } from '../helpers/registry.js';

const cliAsync = runCliAsync;

describe('fastlayer image: the layer cache', { skip: binMissing() }, () => {
  const tmp = tempDir('fastlayer-cli-cache-');
  const src = join(tmp.path, 'src');
  const env = (xdg: string): NodeJS.ProcessEnv => ({ ...process.env, XDG_CACHE_HOME: join(tmp.path, xdg), DOCKER_CONFIG: join(tmp.path, 'docker-config') });

  before(() => {
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'bin'), randomBytes(100_000, 5));
  });
  after(() => tmp.remove());

  it('is on by default; --no-layer-cache does not touch the cache directory', () => {
    const off = runCli(['image', '--layer', src, '--tag', 'a:1', '--oci-dir', join(tmp.path, 'out-off'), '--no-layer-cache'], { env: env('xdg-off') });
    assert.equal(off.status, 0, off.stderr);
    assert.equal(existsSync(join(tmp.path, 'xdg-off')), false, 'nothing created under XDG_CACHE_HOME');
    const on = runCli(['image', '--layer', src, '--tag', 'a:1', '--oci-dir', join(tmp.path, 'out-on')], { env: env('xdg-on') });
    assert.equal(on.status, 0, on.stderr);
    assert.equal(readdirSync(join(tmp.path, 'xdg-on', 'fastlayer', 'layers')).filter((n) => n.endsWith('.json')).length, 1, 'one entry, in the default directory');
  });

  it('usage errors: --no-layer-cache with a cache directory, --cache-repo without --push or with a tag', () => {
    const a = runCli(['image', '--layer', src, '--tag', 'a:1', '--oci-dir', join(tmp.path, 'x'), '--no-layer-cache', '--layer-cache-dir', join(tmp.path, 'c')], { env: env('u') });
    assert.equal(a.status, 2, a.stderr);
    assert.match(a.stderr, /--no-layer-cache excludes/);
    const b = runCli(['image', '--layer', src, '--tag', 'a:1', '--oci-dir', join(tmp.path, 'x'), '--cache-repo', 'reg.example/team/cache'], { env: env('u') });
    assert.equal(b.status, 2, b.stderr);
    assert.match(b.stderr, /--cache-repo goes with --push/);
    const c = runCli(['image', '--layer', src, '--push', 'reg.example/team/app', '--cache-repo', 'reg.example/team/cache:v1'], { env: env('u') });
    assert.equal(c.status, 2, c.stderr);
    assert.match(c.stderr, /without a tag or digest/);
  });

  it('hazard: an entry whose size is smaller than the blob fails one --oci-dir build, which removes it; the next one succeeds', () => {
    const cache = join(tmp.path, 'small-entry');
    // Large enough that the layer is still being compressed when the write fails at the extra byte.
    const big = join(tmp.path, 'big');
    mkdirSync(big, { recursive: true });
    writeFileSync(join(big, 'bin'), randomBytes(8_000_000, 6));
    const run = (out: string) => runCli(['image', '--layer', big, '--tag', 'a:1', '--oci-dir', join(tmp.path, out), '--layer-cache-dir', cache], { env: env('u') });
    assert.equal(run('small-1').status, 0);
    const [name] = readdirSync(cache).filter((n) => n.endsWith('.json'));
    const entry = JSON.parse(readFileSync(join(cache, name!), 'utf8')) as { size: number };
    writeFileSync(join(cache, name!), JSON.stringify({ ...entry, size: 100 }));
    const failed = run('small-2');
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, /does not match its descriptor/);
    assert.deepEqual(readdirSync(cache).filter((n) => n.endsWith('.json')), [], 'removed before the CLI exited');
    const again = run('small-3');
    assert.equal(again.status, 0, again.stderr);
  });

  describe('--cache-repo (docker-registry)', { skip: registryMissing() }, () => {
    const served = registryAndProxy();

    it('a second runner with an empty local cache uploads no layer', async () => {
      const args = ['image', '--layer', `${src}:/app`, '--push', `${served.proxy.host}/team/app:1`, '--cache-repo', `${served.proxy.host}/team/cache`, '--insecure'];
      const first = await cliAsync(args, env('runner-1'));
      assert.equal(first.status, 0, first.stderr);
      const from = served.proxy.log.length;
      const second = await cliAsync(args, env('runner-2'));
      assert.equal(second.status, 0, second.stderr);
      const uploads = served.proxy.log.slice(from).filter((r) => r.path.startsWith('/v2/team/app/blobs/uploads/'));
      assert.deepEqual(uploads, [], 'no upload into team/app');
      assert.equal(second.stderr.includes('warning'), false, second.stderr);
    });

    it('--creds go to the cache repository only when it is in the pushed registry', async () => {
      const secured = await startRegistry({ kind: 'htpasswd', users: { alice: 'alice-secret' } });
      const other = await startRegistry({ kind: 'htpasswd', users: { bob: 'bob-secret' } });
      const otherProxy = await startProxy(other.port);
      try {
        const base = ['image', '--layer', `${src}:/app`, '--push', `${secured.host}/team/app:1`, '--creds', 'alice:alice-secret', '--insecure'];
        // Another registry: alice's password is not sent there; the cache cannot be read, a warning, the push goes on.
        const foreign = await cliAsync([...base, '--cache-repo', `${otherProxy.host}/team/cache`], env('creds-1'));
        assert.equal(foreign.status, 0, foreign.stderr);
        assert.match(foreign.stderr, /warning: cache repository/);
        assert.ok(otherProxy.log.length > 0, 'the cache registry was asked');
        assert.deepEqual(otherProxy.log.filter((r) => r.auth), [], 'no Authorization header reached the other registry');
        // The pushed registry: the credentials are its own, the cache is written.
        const same = await cliAsync([...base, '--cache-repo', `${secured.host}/team/cache`], env('creds-2'));
        assert.equal(same.status, 0, same.stderr);
        assert.doesNotMatch(same.stderr, /warning/);
        const tag = await fetch(`http://${secured.host}/v2/team/cache/manifests/fastlayer-layer-cache`, { method: 'HEAD', headers: { authorization: `Basic ${Buffer.from('alice:alice-secret').toString('base64')}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
        assert.equal(tag.status, 200, 'the cache artifact was written with the push credentials');
      } finally {
        await otherProxy.close();
        await other.stop();
        await secured.stop();
      }
    });
  });
});
