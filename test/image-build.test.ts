// buildImage: what `fastlayer image` runs with its parsed flags, called the way the CLI will.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, parseCommand, parseLayerArg } from '../src/image/build.js';
import { listTar, missing, mustRun, tempDir } from './image-util.js';

const out1Path = (dir: string): string => join(dir, 'x.tar');

describe('buildImage (fastlayer image)', () => {
  const tmp = tempDir('fastlayer-build-');
  const one = join(tmp.path, 'one');
  const two = join(tmp.path, 'two');
  before(() => {
    mkdirSync(one);
    writeFileSync(join(one, 'a'), 'a\n');
    mkdirSync(two);
    writeFileSync(join(two, 'b'), 'b\n');
  });
  after(() => tmp.remove());

  it('parses --layer DIR[:DEST] and --entrypoint/--cmd JSON|STRING as documented', () => {
    assert.deepEqual(parseLayerArg('dist'), { dir: 'dist' });
    assert.deepEqual(parseLayerArg('dist:/app'), { dir: 'dist', dest: '/app' });
    assert.deepEqual(parseLayerArg('C:stuff'), { dir: 'C:stuff' }, 'DEST must be absolute');
    assert.deepEqual(parseCommand('cmd', '["node","main.js"]'), ['node', 'main.js']);
    assert.deepEqual(parseCommand('cmd', '/bin/app --flag'), ['/bin/app --flag']);
    assert.throws(() => parseCommand('cmd', '[not json'), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => parseCommand('cmd', '[1]'), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });

  it('writes an archive with the flags applied, twice byte-identical, then a layout on top of it as base', async () => {
    const spec = {
      layers: [one, `${two}:/`], entrypoint: '["/bin/sh","-c"]', cmd: 'echo hi', env: ['A=1', 'B=x=y'], workdir: '/w', user: 'nobody',
      labels: ['k=v'], platform: 'linux/arm64', tags: ['app:1', 'app:latest'],
    };
    const out1 = join(tmp.path, 'x.tar');
    const out2 = join(tmp.path, 'y.tar');
    const r1 = await buildImage({ ...spec, output: out1 });
    const r2 = await buildImage({ ...spec, output: out2 });
    assert.ok(readFileSync(out1).equals(readFileSync(out2)));
    assert.deepEqual(r1.names, ['docker.io/library/app:1', 'docker.io/library/app:latest']);
    const entries = await listTar(out1);
    const config = JSON.parse(entries.find((e) => e.name === `blobs/sha256/${r1.images[0]!.config.digest.slice(7)}`)!.data!.toString());
    assert.deepEqual(config.config, { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo hi'], Env: ['A=1', 'B=x=y'], WorkingDir: '/w', User: 'nobody', Labels: { k: 'v' } });
    assert.equal(config.architecture, 'arm64');
    assert.equal(config.history.length, 2);
    assert.equal(r2.digest, r1.digest);

    const dir = join(tmp.path, 'oci');
    const r3 = await buildImage({ layers: [two], base: out1, platform: 'linux/arm64', tags: ['next:1'], ociDir: dir, user: 'root' });
    assert.deepEqual(r3.images[0]!.layers.slice(0, 2).map((l) => l.digest), r1.images[0]!.layers.map((l) => l.digest));
    assert.ok(existsSync(join(dir, 'index.json')));
    const why = missing('skopeo');
    if (!why) {
      const inspected = JSON.parse(mustRun('skopeo', ['inspect', '--config', `oci:${dir}:1`]));
      assert.equal(inspected.config.User, 'root');
      assert.deepEqual(inspected.config.Entrypoint, ['/bin/sh', '-c'], 'inherited from the base');
    }
  });

  it('--platform a,b builds an index: one image per platform, the directory layers written once, each on its base', async () => {
    const baseIndex = join(tmp.path, 'base-multi');
    await buildImage({ layers: [one], platform: 'linux/amd64,linux/arm64', tags: ['base:multi'], ociDir: baseIndex, env: ['BASE=1'] });
    const out = join(tmp.path, 'multi.tar');
    const r = await buildImage({ layers: [two], base: baseIndex, platform: 'linux/amd64, linux/arm64', tags: ['multi:1'], output: out });
    assert.equal(r.descriptor.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(r.images.length, 2);
    assert.equal(r.images[0]!.layers[1]!.digest, r.images[1]!.layers[1]!.digest, 'the directory layer is shared');
    assert.notEqual(r.images[0]!.config.digest, r.images[1]!.config.digest, 'configs differ by platform');
    const entries = await listTar(out);
    const blobs = entries.filter((e) => e.name.startsWith('blobs/sha256/') && e.type === 'file').map((e) => e.name);
    assert.equal(new Set(blobs).size, blobs.length);
    for (const img of r.images) {
      const config = JSON.parse(entries.find((e) => e.name === `blobs/sha256/${img.config.digest.slice(7)}`)!.data!.toString());
      assert.deepEqual(config.config.Env, ['BASE=1']);
    }
    await assert.rejects(buildImage({ layers: [two], base: out1Path(tmp.path), platform: 'linux/amd64', tags: ['x:1'], output: join(tmp.path, 'mismatch.tar') }), { code: 'ERR_BASE_IMAGE', message: /linux\/arm64, not linux\/amd64/ });
  });

  it('the same tree at another path gives the same image digest (no local path in the image)', async () => {
    const copy = join(tmp.path, 'elsewhere', 'deeper');
    mkdirSync(copy, { recursive: true });
    writeFileSync(join(copy, 'a'), 'a\n');
    const { utimesSync, statSync } = await import('node:fs');
    const st = statSync(join(one, 'a'));
    utimesSync(join(copy, 'a'), st.atime, st.mtime);
    utimesSync(copy, statSync(one).atime, statSync(one).mtime);
    const a = await buildImage({ layers: [one], tags: ['same:1'], output: join(tmp.path, 'same-a.tar') });
    const b = await buildImage({ layers: [copy], tags: ['same:1'], output: join(tmp.path, 'same-b.tar') });
    assert.equal(b.digest, a.digest);
  });

  it('refuses what the command line must refuse, with coded errors and no output', async () => {
    const out = join(tmp.path, 'never.tar');
    await assert.rejects(buildImage({ layers: [one], tags: [], output: out }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(buildImage({ layers: [one], tags: ['a'], output: out, ociDir: join(tmp.path, 'd') }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(buildImage({ layers: [one], tags: ['Not Valid'], output: out }), { code: 'ERR_INVALID_REFERENCE' });
    await assert.rejects(buildImage({ layers: [one], tags: ['a'], output: out, env: ['NOVALUE'] }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    await assert.rejects(buildImage({ layers: [one], tags: ['a'], output: out, base: join(tmp.path, 'missing.tar') }), { code: 'ERR_BASE_IMAGE' });
    await assert.rejects(buildImage({ layers: [join(tmp.path, 'no-such-dir')], tags: ['a'], output: out }), { code: 'ERR_TAR_SOURCE' });
    assert.ok(!existsSync(out));
  });
});
