// Authentication against the real registry: htpasswd Basic auth and Bearer tokens from a token server;
// credentials from options, the Docker config and a credential helper; and never in any error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { pull, pullToDestination } from '../../src/registry/pull.js';
import { ErrRegistry } from '../../src/registry/errors.js';
import { resolveCredentials } from '../../src/registry/credentials.js';
import { Authenticator, parseChallenge } from '../../src/registry/auth.js';
import { tempDir } from '../helpers/tree.js';
import { collect } from '../helpers/layer.js';
import { registryMissing, tokenSetupMissing, startRegistry, type RunningRegistry, withProxy } from '../helpers/registry.js';
import { digestOf, streaming, writeTestImage } from '../helpers/registry-image.js';

const missing = registryMissing();
const PASSWORD = 'Sup3r-Secret-P4ssw0rd-7c1e';
const WRONG = 'Wr0ng-Secret-P4ssw0rd-99ab';

/** Every way an error can be shown or logged, checked for the secrets. */
function assertNoSecret(err: unknown, ...secrets: string[]): void {
  const forms = [
    String(err),
    (err as Error).stack ?? '',
    inspect(err, { depth: 10, showHidden: true }),
    JSON.stringify(err),
    JSON.stringify((err as { cause?: unknown }).cause ?? null),
  ];
  for (const secret of secrets) {
    const encoded = [secret, Buffer.from(`alice:${secret}`).toString('base64'), Buffer.from(secret).toString('base64')];
    for (const form of forms) for (const e of encoded) assert.ok(!form.includes(e), `secret leaked into ${form.slice(0, 200)}`);
  }
}

function tiny(seed: number): Layer {
  return new Layer(Buffer.from(`layer ${seed} `.repeat(10_000)), { compressionLevel: 1 });
}

describe('parseChallenge', () => {
  it('reads quoted and bare parameters, commas inside quotes included', () => {
    const c = parseChallenge('Bearer realm="https://auth.example/token",service=registry.example,scope="repository:a/b:pull,push"');
    assert.deepEqual(c, { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } });
    assert.equal(parseChallenge('Negotiate abc'), undefined);
    assert.equal(parseChallenge('Basic realm="x"')?.scheme, 'basic');
  });
});

describe('Docker config credentials', () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  it('reads auths (auth and identitytoken), Docker Hub under its v1 key, credHelpers before auths', async () => {
    const dir = join(tmp.path, 'cfg');
    mkdirSync(dir);
    const bin = join(tmp.path, 'bin');
    mkdirSync(bin);
    const helper = join(bin, 'docker-credential-fltest');
    // The helper answers from stdin: it must receive the server name there.
    writeFileSync(helper, `#!/bin/sh\nread server\nprintf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-%s"}' "$server" "$server"\n`);
    chmodSync(helper, 0o755);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
          'registry.example:5000': { auth: Buffer.from('bob:pa:ss').toString('base64') },
          'https://token.example': { identitytoken: 'refresh-123' },
          'helped.example': { auth: Buffer.from('no:no').toString('base64') },
        },
        credHelpers: { 'helped.example': 'fltest' },
      }),
    );
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      assert.deepEqual(await resolveCredentials('docker.io', { dockerConfig: dir }), { username: 'hubuser', password: 'hubpass' });
      assert.deepEqual(await resolveCredentials('registry.example:5000', { dockerConfig: dir }), { username: 'bob', password: 'pa:ss' });
      assert.deepEqual(await resolveCredentials('token.example', { dockerConfig: dir }), { identityToken: 'refresh-123' });
      assert.deepEqual(await resolveCredentials('helped.example', { dockerConfig: dir }), { username: 'helper-user', password: 'helper-helped.example' });
      assert.equal(await resolveCredentials('unknown.example', { dockerConfig: dir }), undefined);
      assert.equal(await resolveCredentials('docker.io', { dockerConfig: join(tmp.path, 'absent') }), undefined);
    } finally {
      process.env.PATH = path;
    }
  });

  it('a credential helper that hangs is stopped after the bound, with a coded error', async () => {
    const dir = join(tmp.path, 'cfg2');
    mkdirSync(dir);
    const bin = join(tmp.path, 'bin2');
    mkdirSync(bin);
    writeFileSync(join(bin, 'docker-credential-hang'), '#!/bin/sh\nsleep 30\n');
    chmodSync(join(bin, 'docker-credential-hang'), 0o755);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'hang' }));
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      await assert.rejects(resolveCredentials('x.example', { dockerConfig: dir, helperTimeout: 300 }), { code: 'ERR_REGISTRY_CREDENTIALS' });
    } finally {
      process.env.PATH = path;
    }
  });

  it('a malformed config is ERR_REGISTRY_CREDENTIALS and does not quote the file', async () => {
    const dir = join(tmp.path, 'cfg3');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), `{"auths": {"x": {"auth": "${PASSWORD}"`);
    await assert.rejects(resolveCredentials('x', { dockerConfig: dir }), (err: unknown) => {
      assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_CREDENTIALS');
      assertNoSecret(err, PASSWORD);
      return true;
    });
  });
});

describe('htpasswd Basic auth (docker-registry)', { skip: missing }, () => {
  let registry: RunningRegistry;
  const tmp = tempDir();
  before(async () => {
    registry = await startRegistry({ kind: 'htpasswd', users: { alice: PASSWORD } });
  });
  after(async () => {
    await registry?.stop();
    tmp.remove();
  });

  it('pushes and pulls with credentials from options', async () => {
    const ref = `${registry.host}/basic/app:v1`;
    const credentials = { username: 'alice', password: PASSWORD };
    const events: unknown[] = [];
    const dest = new RegistryDestination(ref, { credentials, onProgress: (e) => events.push(e) });
    const pushed = await writeTestImage(dest, [streaming(tiny(1))]);
    const image = await pull(ref, { credentials });
    // The objects a program may log or serialise hold no secret either.
    assertNoSecret(Object.assign(new Error('probe'), { dest: inspect(dest, { showHidden: true, depth: 10 }), json: JSON.stringify(dest), events, image: inspect(image, { depth: 10 }) }), PASSWORD);
    assert.ok(events.length > 0);
    assert.equal(image.manifest.descriptor.digest, pushed.manifest.descriptor.digest);
    assert.equal(digestOf(await collect(image.layers[0]!.open())), pushed.layers[0]!.digest);
  });

  it('reads the credentials from a Docker config (auths.auth)', async () => {
    const dir = join(tmp.path, 'docker');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${registry.host}`]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }));
    const image = await pull(`${registry.host}/basic/app:v1`, { dockerConfig: dir });
    assert.equal(image.layers.length, 1);
  });

  it('wrong credentials: ERR_REGISTRY_UNAUTHORIZED naming no secret; no tag is written', async () => {
    const ref = `${registry.host}/basic/wrong:v1`;
    await assert.rejects(writeTestImage(new RegistryDestination(ref, { credentials: { username: 'alice', password: WRONG } }), [streaming(tiny(2))]), (err: unknown) => {
      assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
      assert.equal((err as ErrRegistry).status, 401);
      assertNoSecret(err, WRONG, PASSWORD);
      return true;
    });
    await assert.rejects(pull(ref, { credentials: { username: 'alice', password: PASSWORD } }), { code: 'ERR_REGISTRY_NOT_FOUND' });
  });

  it('no credentials at all: ERR_REGISTRY_UNAUTHORIZED saying none were found', async () => {
    await assert.rejects(pull(`${registry.host}/basic/app:v1`, { credentials: null }), (err: unknown) => {
      assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
      assert.match((err as Error).message, /none were found/);
      return true;
    });
  });
});

describe('Bearer tokens from a token server (docker-registry auth: token)', { skip: tokenSetupMissing() }, () => {
  let registry: RunningRegistry;
  before(async () => {
    registry = await startRegistry({ kind: 'token', users: { alice: PASSWORD, reader: PASSWORD }, readers: ['reader'] });
  });
  after(async () => {
    await registry?.stop();
  });

  it('pushes with one token for pull,push on the repository, and pulls', async () => {
    const ref = `${registry.host}/team/app:v1`;
    const credentials = { username: 'alice', password: PASSWORD };
    const before = registry.token!.requests.length;
    const pushed = await writeTestImage(new RegistryDestination(ref, { credentials }), [streaming(tiny(3))]);
    const asked = registry.token!.requests.slice(before);
    assert.equal(asked.length, 1, 'one token for the whole push');
    assert.deepEqual(asked[0]!.scopes, ['repository:team/app:pull,push']);
    const image = await pull(ref, { credentials });
    assert.equal(image.manifest.descriptor.digest, pushed.manifest.descriptor.digest);
  });

  it('a mount asks one token for push on the target and pull on the source', async () => {
    const credentials = { username: 'alice', password: PASSWORD };
    await withProxy(registry.port, async (proxy) => {
      const before = registry.token!.requests.length;
      await pullToDestination(`${proxy.host}/team/app:v1`, new RegistryDestination(`${proxy.host}/team/copy:v1`, { credentials }), { credentials });
      const scopes = registry.token!.requests.slice(before).map((r) => r.scopes.join(' '));
      assert.ok(scopes.includes('repository:team/app:pull repository:team/copy:pull,push'), scopes.join(' | '));
      assert.ok(proxy.log.some((l) => l.method === 'POST' && l.path.includes('mount=')));
      assert.equal(proxy.bytes.PATCH ?? 0, 0);
    });
  });

  it('a token the registry rejects as expired is replaced by a fresh one and the push goes on', async () => {
    const credentials = { username: 'alice', password: PASSWORD };
    const ref = `${registry.host}/team/refresh:v1`;
    const before = registry.token!.requests.length;
    // The next token is already past its expiry (beyond the registry's leeway) while claiming 300 s.
    registry.token!.staleNext = 1;
    await writeTestImage(new RegistryDestination(ref, { credentials }), [streaming(tiny(4))]);
    assert.equal(registry.token!.staleNext, 0);
    assert.equal(registry.token!.requests.length - before, 2, 'the stale token, then a fresh one');
    await pull(ref, { credentials });
  });

  it('an identity token (docker login with OAuth) is exchanged at the realm with the refresh-token grant', async () => {
    const ref = `${registry.host}/team/oauth:v1`;
    const before = registry.token!.requests.length;
    await writeTestImage(new RegistryDestination(ref, { credentials: { identityToken: 'refresh-alice' } }), [streaming(tiny(7))]);
    const asked = registry.token!.requests.slice(before);
    assert.deepEqual(asked.map((r) => [r.account, r.ok, r.scopes.join(' ')]), [['alice', true, 'repository:team/oauth:pull,push']]);
    await assert.rejects(pull(ref, { credentials: { identityToken: 'refresh-mallory' } }), { code: 'ERR_REGISTRY_UNAUTHORIZED' });
  });

  it('concurrent uploads on a fresh destination share one token', async () => {
    const credentials = { username: 'alice', password: PASSWORD };
    const dest = new RegistryDestination(`${registry.host}/team/parallel:v1`, { credentials });
    const before = registry.token!.requests.length;
    const layers = [tiny(8), tiny(9), tiny(10)];
    const descriptors = await Promise.all(layers.map((l) => dest.writeBlob(streaming(l))));
    assert.equal(new Set(descriptors.map((d) => d.digest)).size, 3);
    assert.equal(registry.token!.requests.length - before, 1);
    for (const d of descriptors) assert.equal(await dest.has(d), true);
  });

  it('a reader pushing is ERR_REGISTRY_DENIED; wrong password is ERR_REGISTRY_UNAUTHORIZED; neither leaks the password', async () => {
    const ref = `${registry.host}/team/denied:v1`;
    await assert.rejects(writeTestImage(new RegistryDestination(ref, { credentials: { username: 'reader', password: PASSWORD } }), [streaming(tiny(6))]), (err: unknown) => {
      assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_DENIED');
      assertNoSecret(err, PASSWORD);
      return true;
    });
    await assert.rejects(pull(`${registry.host}/team/app:v1`, { credentials: { username: 'alice', password: WRONG } }), (err: unknown) => {
      assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_UNAUTHORIZED');
      assertNoSecret(err, WRONG, PASSWORD);
      return true;
    });
  });
});

describe('Authenticator: Bearer realms', () => {
  it('hazard: a registry elsewhere cannot name this machine as its token server; a loopback registry can', async () => {
    for (const realm of ['http://127.0.0.1:8080/token', 'https://localhost/token', 'http://[::1]:9000/token']) {
      const auth = new Authenticator('reg.example', { credentials: { username: 'alice', password: 'secret' } });
      await assert.rejects(auth.challenge(`Bearer realm="${realm}",service="r"`, ['repository:app:pull'], undefined), (err: unknown) => {
        assert.equal((err as ErrRegistry).code, 'ERR_REGISTRY_PROTOCOL');
        assert.match((err as Error).message, /is on this machine; refusing to send credentials/);
        return true;
      });
    }
    const local = new Authenticator('127.0.0.1:5000', { credentials: { username: 'alice', password: 'secret' } });
    assert.equal(await local.challenge('Bearer realm="http://127.0.0.1:5001/token",service="r"', ['repository:app:pull'], undefined), true);
    const remote = new Authenticator('reg.example', { credentials: { username: 'alice', password: 'secret' } });
    assert.equal(await remote.challenge('Bearer realm="https://auth.example/token",service="r"', ['repository:app:pull'], undefined), true);
  });
});

describe('Authenticator: Basic challenges', () => {
  it('every request that went out anonymously retries after a Basic 401, not only the first (concurrent HEADs); refused credentials do not', async () => {
    const auth = new Authenticator('reg.example', { credentials: { username: 'alice', password: 'secret' } });
    const challenge = 'Basic realm="registry"';
    // Two anonymous requests answered 401 at once: both may retry with the credentials.
    const [a, b] = await Promise.all([auth.challenge(challenge, [], undefined), auth.challenge(challenge, [], undefined)]);
    assert.deepEqual([a, b], [true, true]);
    const header = await auth.header([]);
    assert.equal(header, `Basic ${Buffer.from('alice:secret').toString('base64')}`);
    // The same credentials refused: no retry (a wrong password is reported, not repeated).
    assert.equal(await auth.challenge(challenge, [], header), false);
  });
});
