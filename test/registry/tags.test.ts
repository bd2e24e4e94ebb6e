// Tags of a push (registry/tags.ts): a bare `latest` is a tag of the pushed repository, a name in it
// is tagged, a name in another repository is refused before any request, and the result lists exactly
// the tags the registry holds afterwards. The rule first, then pushImage, buildImage, writeImage and
// pushLayout against a real registry (docker-registry), behind a proxy that logs every request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { Image } from '../../src/image/image.js';
import { Reference } from '../../src/image/reference.js';
import { buildImage } from '../../src/build/build.js';
import { writeImage } from '../../src/image/write.js';
import { writeLayout } from '../../src/layout/layout.js';
import { ErrInvalidReference } from '../../src/image/errors.js';
import { ErrInvalidOption } from '../../src/core/errors.js';
import { pushImage } from '../../src/registry/push.js';
import { pushArchive, pushLayout } from '../../src/registry/layout.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { ErrRegistryTagsIncomplete, ErrTagRepository } from '../../src/registry/errors.js';
import { isBareTag, pushTags } from '../../src/registry/tags.js';
import { randomBytes } from '../helpers/data.js';
import { tempDir } from '../helpers/tree.js';
import { registryMissing, skopeoMissing, startProxy, startRegistry, type Proxy, type RunningRegistry } from '../helpers/registry.js';
import { skopeo } from '../helpers/registry-image.js';

const REF = Reference.parse('reg.example:5000/team/app:sha-abc');

describe('pushTags: which names a push tags', () => {
  it('a bare tag is a tag of the pushed repository; the reference\'s own tag comes first', () => {
    assert.deepEqual(pushTags(REF, ['latest', 'v1.2.3', 'V_2', '_x']), [
      'reg.example:5000/team/app:sha-abc',
      'reg.example:5000/team/app:latest',
      'reg.example:5000/team/app:v1.2.3',
      'reg.example:5000/team/app:V_2',
      'reg.example:5000/team/app:_x',
    ]);
    assert.equal(isBareTag('x'.repeat(128)), true);
    assert.equal(isBareTag('x'.repeat(129)), false);
    for (const notBare of ['app:1', 'team/app', '-x', '.x', 'a@b', '']) assert.equal(isBareTag(notBare), false, notBare);
  });

  it('a full name in the repository is tagged (no tag: latest); each name once', () => {
    assert.deepEqual(pushTags(REF, ['reg.example:5000/team/app:v2', 'reg.example:5000/team/app', 'latest', 'sha-abc']), [
      'reg.example:5000/team/app:sha-abc',
      'reg.example:5000/team/app:v2',
      'reg.example:5000/team/app:latest',
    ]);
  });

  it('a reference pinned by digest alone tags only the names given', () => {
    const pinned = Reference.parse(`reg.example:5000/team/app@sha256:${'a'.repeat(64)}`);
    assert.deepEqual(pushTags(pinned), []);
    assert.deepEqual(pushTags(pinned, ['v1']), ['reg.example:5000/team/app:v1']);
  });

  it('hazard: a name in another repository is ErrTagRepository naming it, never dropped', () => {
    // `app:1` has a colon: it is docker.io/library/app:1, not a tag. Same path, other registry: other repository.
    for (const name of ['other/repo:9', 'app:1', 'team/app:1', 'reg.example:5001/team/app:1', 'reg.example:5000/team/app2:1']) {
      assert.throws(() => pushTags(REF, ['latest', name]), (err: ErrTagRepository) => {
        assert.ok(err instanceof ErrTagRepository);
        assert.equal(err.code, 'ERR_TAG_REPOSITORY');
        assert.equal(err.tagName, name);
        assert.ok(err.message.includes(`"${name}"`) && err.message.includes('reg.example:5000/team/app'), err.message);
        return true;
      }, name);
    }
  });

  it('hazard: a name with a digest is refused (a tag cannot pin one); a malformed name is ErrInvalidReference', () => {
    assert.throws(() => pushTags(REF, [`reg.example:5000/team/app:v1@sha256:${'b'.repeat(64)}`]), { code: 'ERR_TAG_REPOSITORY' });
    // Too long for a tag: read as a name, docker.io/library/xxx..., another repository.
    assert.throws(() => pushTags(REF, ['x'.repeat(129)]), { code: 'ERR_TAG_REPOSITORY' });
    assert.throws(() => pushTags(REF, ['Not/Valid']), ErrInvalidReference);
    assert.throws(() => pushTags(REF, 'latest' as unknown as string[]), ErrInvalidOption);
    assert.throws(() => pushTags(REF, [1 as unknown as string]), ErrInvalidOption);
  });
});

const missing = registryMissing();

async function tagsOf(host: string, repository: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repository}/tags/list`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tags: string[] | null };
  return [...(body.tags ?? [])].sort();
}

async function digestOf(host: string, repository: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  return res.headers.get('docker-content-digest');
}

describe('pushes with several tags (docker-registry)', { skip: missing }, () => {
  let registry: RunningRegistry;
  let proxy: Proxy;
  const tmp = tempDir();
  const src = join(tmp.path, 'src');
  const imageOf = (): Image => new Image({ layers: [new Layer(tarDirectory(src, { mtime: 0 }), { compressionLevel: 1 })] });

  before(async () => {
    registry = await startRegistry();
    proxy = await startProxy(registry.port);
    mkdirSync(src);
    writeFileSync(join(src, 'data'), randomBytes(200_000, 21));
  });
  after(async () => {
    await proxy?.close();
    await registry?.stop();
    tmp.remove();
  });

  it('pushImage: bare tags and a full name in the repository are all written; the result lists exactly those', async (t) => {
    const host = registry.host;
    const result = await pushImage(imageOf(), `${host}/tags/app:sha-abc`, { names: ['latest', 'v1.2.3', `${host}/tags/app:stable`] });
    const expected = ['sha-abc', 'latest', 'v1.2.3', 'stable'];
    assert.deepEqual(result.names, expected.map((tag) => `${host}/tags/app:${tag}`));
    assert.deepEqual(await tagsOf(host, 'tags/app'), [...expected].sort());
    for (const tag of expected) assert.equal(await digestOf(host, 'tags/app', tag), result.digest, tag);
    assert.deepEqual(await tagsOf(host, 'library/latest'), [], 'not read as docker.io/library/latest');
    const noSkopeo = skopeoMissing();
    if (noSkopeo) return t.skip(noSkopeo);
    for (const tag of expected) {
      const info = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${host}/tags/app:${tag}`])) as { Digest: string };
      assert.equal(info.Digest, result.digest, tag);
    }
  });

  it('hazard: pushImage with a name in another repository sends no request at all and writes no tag', async () => {
    const before = proxy.log.length;
    const layer = new Layer(tarDirectory(src, { mtime: 0 }), { compressionLevel: 1 });
    await assert.rejects(pushImage(new Image({ layers: [layer] }), `${proxy.host}/tags/refused:1`, { names: ['latest', 'other/repo:9'] }), (err: ErrTagRepository) => {
      assert.equal(err.code, 'ERR_TAG_REPOSITORY');
      assert.match(err.message, /"other\/repo:9"/);
      return true;
    });
    assert.deepEqual(proxy.log.slice(before), [], 'refused before any request');
    assert.deepEqual(await tagsOf(registry.host, 'tags/refused'), []);
  });

  it('buildImage and writeImage into a RegistryDestination: bare tags are tags of its repository; another repository is refused first', async () => {
    const host = registry.host;
    const built = await buildImage({ layers: [src], tags: ['latest'], mtime: 0, destination: new RegistryDestination(`${host}/tags/built:1`) } as Parameters<typeof buildImage>[0]);
    assert.deepEqual(built.names, [`${host}/tags/built:1`, `${host}/tags/built:latest`]);
    assert.deepEqual(await tagsOf(host, 'tags/built'), ['1', 'latest']);
    const written = await writeImage(imageOf(), new RegistryDestination(`${host}/tags/written:1`), { names: ['edge'] });
    assert.deepEqual(written.names, [`${host}/tags/written:1`, `${host}/tags/written:edge`]);
    assert.deepEqual(await tagsOf(host, 'tags/written'), ['1', 'edge']);
    const before = proxy.log.length;
    await assert.rejects(
      buildImage({ layers: [src], tags: ['elsewhere/app:1'], destination: new RegistryDestination(`${proxy.host}/tags/built:2`) } as Parameters<typeof buildImage>[0]),
      { code: 'ERR_TAG_REPOSITORY' },
    );
    await assert.rejects(writeImage(imageOf(), new RegistryDestination(`${proxy.host}/tags/written:2`), { names: ['docker.io/library/app:1'] }), { code: 'ERR_TAG_REPOSITORY' });
    assert.deepEqual(proxy.log.slice(before), []);
    assert.deepEqual(await tagsOf(host, 'tags/built'), ['1', 'latest']);
  });

  it('hazard: a tag PUT refused after the first tag went in: ERR_REGISTRY_TAGS_INCOMPLETE lists exactly the tags written', async () => {
    // An immutable-tag registry: `latest` is refused (403 DENIED) once `sha-abc` is written.
    const refusing = await startProxy(registry.port, {
      intercept: ({ req, res }) => {
        if (req.method !== 'PUT' || !req.url?.endsWith('/manifests/latest')) return false;
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'tag latest is immutable' }] }));
        return true;
      },
    });
    try {
      await assert.rejects(pushImage(imageOf(), `${refusing.host}/tags/partial:sha-abc`, { names: ['latest', 'v1'] }), (err: ErrRegistryTagsIncomplete) => {
        assert.ok(err instanceof ErrRegistryTagsIncomplete);
        assert.equal(err.code, 'ERR_REGISTRY_TAGS_INCOMPLETE');
        assert.deepEqual(err.tagged, [`${refusing.host}/tags/partial:sha-abc`]);
        assert.equal(err.failed, `${refusing.host}/tags/partial:latest`);
        assert.equal(err.status, 403);
        assert.equal((err.cause as { code: string }).code, 'ERR_REGISTRY_DENIED');
        assert.match(err.message, /tag latest is immutable/);
        assert.deepEqual((err.toJSON() as { tagged: string[] }).tagged, err.tagged);
        return true;
      });
      assert.deepEqual(await tagsOf(registry.host, 'tags/partial'), ['sha-abc'], 'v1 comes after the failure: not written');
      // The first tag failing leaves nothing tagged: its own error, unwrapped.
      await assert.rejects(pushImage(imageOf(), `${refusing.host}/tags/first:latest`, { names: ['v1'] }), { code: 'ERR_REGISTRY_DENIED' });
      assert.deepEqual(await tagsOf(registry.host, 'tags/first'), []);
    } finally {
      await refusing.close();
    }
  });

  it('pushLayout and pushArchive take names too; another repository is refused before the source is read', async () => {
    const host = registry.host;
    const layout = join(tmp.path, 'layout');
    const written = await writeLayout(imageOf(), layout, { names: ['app:1'] });
    const d = await pushLayout(layout, `${host}/tags/layout:v1`, { names: ['latest', `${host}/tags/layout:v1.0`] });
    assert.equal(d.digest, written.digest);
    assert.deepEqual(await tagsOf(host, 'tags/layout'), ['latest', 'v1', 'v1.0']);
    for (const tag of ['latest', 'v1', 'v1.0']) assert.equal(await digestOf(host, 'tags/layout', tag), written.digest, tag);
    const before = proxy.log.length;
    // The sources do not exist: the name is what fails, so nothing was read.
    await assert.rejects(pushLayout(join(tmp.path, 'absent'), `${proxy.host}/tags/layout:v2`, { names: ['other/repo:1'] }), { code: 'ERR_TAG_REPOSITORY' });
    await assert.rejects(pushArchive(join(tmp.path, 'absent.tar'), `${proxy.host}/tags/layout:v2`, { names: ['other/repo:1'] }), { code: 'ERR_TAG_REPOSITORY' });
    assert.deepEqual(proxy.log.slice(before), []);
    assert.deepEqual(await tagsOf(host, 'tags/layout'), ['latest', 'v1', 'v1.0']);
  });
});
