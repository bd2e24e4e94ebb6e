// Option objects of the image and registry APIs: every one refuses an unknown key with
// ERR_INVALID_OPTION naming it (never ignored), one name per setting (`workdir`), and buildImage's
// config options (exposedPorts, volumes, stopSignal, healthcheck, author, created, annotations) reach
// the image. Nothing here touches a network: the refusals come before any request.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { Image, ImageIndex } from '../../src/image/image.js';
import { buildImage } from '../../src/build/build.js';
import { loadBase } from '../../src/build/base.js';
import { writeImage } from '../../src/image/write.js';
import { OciLayout, writeLayout } from '../../src/layout/layout.js';
import { ArchiveWriter, writeArchive } from '../../src/archive/archive.js';
import { LayerCache } from '../../src/build/layer-cache.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { pushImage } from '../../src/registry/push.js';
import { pushArchive, pushLayout } from '../../src/registry/layout.js';
import { pull, pullToDestination } from '../../src/registry/pull.js';
import { tempDir } from '../helpers/tree.js';

/** ERR_INVALID_OPTION naming `key`, without the value. */
function unknown(key: string, secret?: string) {
  return (err: unknown): boolean => {
    const e = err as { code?: string; message: string };
    assert.equal(e.code, 'ERR_INVALID_OPTION', e.message);
    assert.match(e.message, new RegExp(`^unknown option "${key.replace(/[[\].]/g, '\\$&')}" of `));
    if (secret !== undefined) assert.ok(!e.message.includes(secret), 'the value is not in the message');
    return true;
  };
}

describe('option objects refuse unknown keys (ERR_INVALID_OPTION naming the key)', () => {
  const tmp = tempDir('fastlayer-options-');
  after(() => tmp.remove());
  const dir = join(tmp.path, 'tree');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'f'), 'x');
  const image = () => new Image({ layers: [new Layer(Buffer.from('x'))] });
  const REF = '127.0.0.1:1/never/contacted:1';

  it('pushImage(..., { tags }) is refused, not ignored; so are misspelt registry options', async () => {
    await assert.rejects(pushImage(image(), REF, { tags: ['a:2'] } as never), unknown('tags'));
    await assert.rejects(pushImage(image(), REF, { insecur: true } as never), unknown('insecur'));
    // What pushImage does know still passes the check (and then fails to connect, later).
    assert.throws(() => new RegistryDestination(REF, { concurency: 2 } as never), unknown('concurency'));
    assert.throws(() => new RegistryDestination(REF, { names: ['x'] } as never), unknown('names'), 'pushImage\'s own keys are not the destination\'s');
  });

  it('hazard: a password put at the wrong level is refused without being quoted', async () => {
    const secret = 'hunter2-not-for-logs';
    await assert.rejects(pushImage(image(), REF, { password: secret } as never), unknown('password', secret));
    await assert.rejects(pull(REF, { username: 'u', password: secret } as never), unknown('username', secret));
  });

  it('registry options of the wrong type are refused before any request (insecure: \'no\' is not plain http)', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ insecure: 'no' }, 'ERR_INVALID_OPTION', /"insecure"/],
      [{ retries: '3' }, 'ERR_INVALID_OPTION', /"retries"/],
      [{ retries: -1 }, 'ERR_OPTION_OUT_OF_RANGE', /"retries"/],
      [{ retryDelay: 1.5 }, 'ERR_OPTION_OUT_OF_RANGE', /"retryDelay"/],
      [{ userAgent: 'x\r\nX-Injected: 1' }, 'ERR_OPTION_OUT_OF_RANGE', /"userAgent"/],
      [{ helperTimeout: 'long' }, 'ERR_INVALID_OPTION', /"helperTimeout"/],
      [{ dockerConfig: 5 }, 'ERR_INVALID_OPTION', /"dockerConfig"/],
      [{ signal: 'stop' }, 'ERR_INVALID_OPTION', /"signal"/],
      [{ onProgress: true }, 'ERR_INVALID_OPTION', /"onProgress"/],
    ];
    for (const [options, code, message] of cases) {
      assert.throws(() => new RegistryDestination(REF, options as never), { code, message }, JSON.stringify(options));
    }
    await assert.rejects(pushImage(image(), REF, { onWrite: 'log' } as never), { code: 'ERR_INVALID_OPTION', message: /"onWrite"/ });
    await assert.rejects(pushImage(image(), REF, { names: 'app:2' } as never), { code: 'ERR_INVALID_OPTION', message: /"names"/ });
    await assert.rejects(pull(REF, { platform: 64 } as never), { code: 'ERR_INVALID_OPTION', message: /"platform"/ });
    await assert.rejects(pull(REF, { retries: '1' } as never), { code: 'ERR_INVALID_OPTION', message: /"retries"/ });
    const secret = 'pa55-not-for-logs';
    assert.throws(() => new RegistryDestination(REF, { credentials: secret } as never), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_INVALID_OPTION');
      assert.ok(!err.message.includes(secret), 'hazard: a password given as credentials is not quoted');
      return true;
    });
  });

  it('pull, pullToDestination, pushLayout, pushArchive', async () => {
    await assert.rejects(pull(REF, { platfrom: 'linux/arm64' } as never), unknown('platfrom'));
    await assert.rejects(pullToDestination(REF, new OciLayout(join(tmp.path, 'l')), { arch: 'arm64' } as never), unknown('arch'));
    await assert.rejects(pushLayout(tmp.path, REF, { tag: 'x' } as never), unknown('tag'));
    await assert.rejects(pushArchive(join(tmp.path, 'none.tar'), REF, { tags: ['x'] } as never), unknown('tags'));
  });

  it('buildImage: top-level keys, layer objects, layerOptions, baseOptions; nothing written', async () => {
    const out = join(tmp.path, 'never.tar');
    await assert.rejects(buildImage({ layers: [dir], tags: ['a:1'], output: out, workingDir: '/srv' } as never), unknown('workingDir'));
    await assert.rejects(buildImage({ layers: [dir], tags: ['a:1'], output: out, expose: ['80'] } as never), unknown('expose'));
    await assert.rejects(buildImage({ layers: [{ dir, dst: '/app' }], tags: ['a:1'], output: out } as never), unknown('layers[0].dst'));
    await assert.rejects(buildImage({ layers: [dir], tags: ['a:1'], output: out, layerOptions: { level: 9 } } as never), unknown('layerOptions.level'));
    await assert.rejects(buildImage({ layers: [dir], tags: ['a:1'], output: out, base: join(tmp.path, 'b.tar'), baseOptions: { arch: 'arm64' } } as never), unknown('arch'));
    assert.ok(!existsSync(out));
  });

  it('Image, ImageIndex, writeImage, writeLayout, writeArchive, OciLayout, ArchiveWriter, LayerCache, loadBase, tarDirectory', async () => {
    assert.throws(() => new Image({ workingDir: '/srv' } as never), unknown('workingDir'));
    assert.throws(() => new ImageIndex([image()], { annotation: {} } as never), unknown('annotation'));
    await assert.rejects(writeImage(image(), new OciLayout(join(tmp.path, 'w')), { tags: ['x'] } as never), unknown('tags'));
    await assert.rejects(writeLayout(image(), join(tmp.path, 'w2'), { tags: ['x'] } as never), unknown('tags'));
    await assert.rejects(writeArchive(image(), join(tmp.path, 'w3.tar'), { mtim: 0 } as never), unknown('mtim'));
    assert.throws(() => new OciLayout(join(tmp.path, 'w4'), { mtime: 0 } as never), unknown('mtime'));
    assert.throws(() => new ArchiveWriter(join(tmp.path, 'w5.tar'), { concurrency: 1 } as never), unknown('concurrency'));
    assert.throws(() => new LayerCache(join(tmp.path, 'c'), { max: 1 } as never), unknown('max'));
    await assert.rejects(loadBase(join(tmp.path, 'b.tar'), { plaform: 'linux/arm64' } as never), unknown('plaform'));
    assert.throws(() => tarDirectory(dir, { prefx: '/app' } as never).next(), unknown('prefx'));
    await assert.rejects(writeLayout(image(), join(tmp.path, 'w6'), { onProgress: 'log' } as never), { code: 'ERR_INVALID_OPTION', message: /"onProgress"/ });
    await assert.rejects(buildImage({ layers: [dir], tags: ['a:1'], ociDir: join(tmp.path, 'w7'), onProgress: 1 } as never), { code: 'ERR_INVALID_OPTION', message: /"onProgress"/ });
    for (const p of ['w', 'w2', 'w3.tar', 'w4', 'w5.tar', 'w6', 'w7']) assert.ok(!existsSync(join(tmp.path, p)), p);
    // The known keys still work, writeLayout's and writeArchive's own included.
    await writeLayout(image(), join(tmp.path, 'ok'), { concurrency: 1, names: ['ok:1'] });
    await writeArchive(image(), join(tmp.path, 'ok.tar'), { mtime: 5, names: ['ok:1'] });
  });
});

describe('buildImage config options are the Image options, wired through', () => {
  const tmp = tempDir('fastlayer-options-build-');
  after(() => tmp.remove());
  const dir = join(tmp.path, 'tree');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'f'), 'x');
  const blob = (layout: string, digest: string) => JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8'));

  it('exposedPorts (no longer ignored), volumes, stopSignal, healthcheck, author, created, workdir, annotations', async () => {
    const layout = join(tmp.path, 'l1');
    const r = await buildImage({
      layers: [dir], tags: ['c:1'], ociDir: layout,
      exposedPorts: ['80', '53/udp'], volumes: ['/data'], stopSignal: 'SIGQUIT', workdir: '/srv',
      healthcheck: { test: ['CMD', 'true'], retries: 2 }, author: 'me', created: '2020-01-01T00:00:00Z',
      annotations: ['a=1'],
    });
    const config = blob(layout, r.images[0]!.config.digest);
    assert.deepEqual(config.config.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(config.config.Volumes, { '/data': {} });
    assert.equal(config.config.StopSignal, 'SIGQUIT');
    assert.equal(config.config.WorkingDir, '/srv');
    assert.deepEqual(config.config.Healthcheck, { Test: ['CMD', 'true'], Retries: 2 });
    assert.equal(config.author, 'me');
    assert.equal(config.created, '2020-01-01T00:00:00Z');
    assert.deepEqual(blob(layout, r.images[0]!.manifest.digest).annotations, { a: '1' });
    const multi = await buildImage({ layers: [dir], tags: ['c:2'], ociDir: join(tmp.path, 'l2'), platform: 'linux/amd64,linux/arm64', annotations: { b: '2' } });
    assert.deepEqual(blob(join(tmp.path, 'l2'), multi.digest).annotations, { b: '2' }, 'the index carries them too');
  });

  it('bad values: ports outside 1-65535 or of another protocol, relative volumes, wrong types', async () => {
    const out = join(tmp.path, 'never.tar');
    const cases: [Record<string, unknown>, string][] = [
      [{ exposedPorts: ['0'] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ exposedPorts: ['65536/tcp'] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ exposedPorts: ['80/icmp'] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ exposedPorts: '80' }, 'ERR_INVALID_OPTION'],
      [{ volumes: ['data'] }, 'ERR_OPTION_OUT_OF_RANGE'],
      // hazard: a relative WORKDIR gave an image runc cannot start ("Cwd must be an absolute path").
      [{ workdir: 'app' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ workdir: '' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ user: '' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ stopSignal: 15 }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ annotations: 'a=1' }, 'ERR_INVALID_OPTION'],
      [{ annotations: ['a'] }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ annotations: ['a=1'], format: 'docker' }, 'ERR_IMAGE_FORMAT'],
      [{ created: 'soon' }, 'ERR_OPTION_OUT_OF_RANGE'],
      // hazard: no zone is host local time to Date.parse, so the digest depended on TZ.
      [{ created: '2024-01-31T00:00:00' }, 'ERR_OPTION_OUT_OF_RANGE'],
      [{ created: '2024-02-30T00:00:00Z' }, 'ERR_OPTION_OUT_OF_RANGE'],
    ];
    for (const [extra, code] of cases) {
      await assert.rejects(buildImage({ layers: [dir], tags: ['a:1'], output: out, ...extra } as never), { code }, JSON.stringify(extra));
    }
    assert.ok(!existsSync(out));
    assert.equal(new Image({ exposedPorts: ['65535', '1/sctp'] }).configJSON([]).config !== undefined, true);
  });
});
