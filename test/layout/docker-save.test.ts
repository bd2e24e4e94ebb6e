// The one docker-save reader (src/layout/docker-save.ts): manifest.json's image chosen by name, its
// config checked against the digest Docker names it by, and the image as an ImageSource whose Docker
// schema 2 manifest is made from the entry: an uncompressed layer's digest is its diff_id (never
// hashed up front, checked as it streams), a gzip layer's the hash of its bytes.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readDockerSave, dockerSaveSource } from '../../src/layout/docker-save.js';
import { openStore } from '../../src/layout/store.js';
import { manifestParts } from '../../src/image/source.js';
import { writeImage } from '../../src/image/write.js';
import { OciLayout } from '../../src/layout/layout.js';
import { layoutSource } from '../../src/layout/source.js';
import { layoutInvalid } from '../../src/image/errors.js';
import { sha256 } from '../../src/core/hash.js';
import { collect } from '../helpers/layer.js';
import { tempDir } from '../helpers/tree.js';

const tmp = tempDir('fastlayer-docker-save-');
after(() => tmp.remove());
let n = 0;
const fresh = (): string => join(tmp.path, `case-${n++}`);
const errors = { invalid: layoutInvalid, missing: (m: string) => Object.assign(new Error(m), { code: 'MISSING' }) };

/** A tar of one file, made by tar(1) so that its bytes are a real layer. */
function layerTar(dir: string, content: string): Buffer {
  const root = join(dir, 'root');
  fs.mkdirSync(join(root, 'etc'), { recursive: true });
  fs.writeFileSync(join(root, 'etc', 'f.txt'), content);
  const r = spawnSync('tar', ['-cf', '-', '--mtime=@0', '--owner=0', '--group=0', '-C', root, 'etc'], { maxBuffer: 1 << 24 });
  assert.equal(r.status, 0);
  fs.rmSync(root, { recursive: true });
  return r.stdout;
}

/** A docker-save directory: each image a config named after its digest and its layer files. */
function save(dir: string, images: { tags: string[]; layers: Buffer[]; diffIDs: string[] }[]): void {
  const entries = images.map((image, i) => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: [`I=${i}`] }, rootfs: { type: 'layers', diff_ids: image.diffIDs } }));
    fs.writeFileSync(join(dir, `${sha256(config).slice(7)}.json`), config);
    const layers = image.layers.map((bytes, j) => {
      fs.mkdirSync(join(dir, `l${i}-${j}`), { recursive: true });
      fs.writeFileSync(join(dir, `l${i}-${j}`, 'layer.tar'), bytes);
      return `l${i}-${j}/layer.tar`;
    });
    return { Config: `${sha256(config).slice(7)}.json`, RepoTags: image.tags, Layers: layers };
  });
  fs.writeFileSync(join(dir, 'manifest.json'), JSON.stringify(entries));
}

describe('docker-save: the one reader', () => {
  it('picks an image by tag, familiar or full name; none or several without a name is the caller\'s missing error', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    const a = layerTar(dir, 'a');
    save(dir, [{ tags: ['app:1'], layers: [a], diffIDs: [sha256(a)] }, { tags: ['docker.io/team/other:2'], layers: [a], diffIDs: [sha256(a)] }]);
    const store = await openStore(dir);
    for (const name of ['app:1', 'docker.io/library/app:1', '1']) assert.deepEqual((await readDockerSave(store, name, errors)).repoTags, ['app:1'], name);
    assert.deepEqual((await readDockerSave(store, 'team/other:2', errors)).repoTags, ['docker.io/team/other:2']);
    await assert.rejects(readDockerSave(store, undefined, errors), { code: 'MISSING', message: /2 images/ });
    await assert.rejects(readDockerSave(store, 'nope:9', errors), { code: 'MISSING', message: /no image named "nope:9"/ });
  });

  it('hazard: a config whose name is a digest its bytes are not, or a layer count that is not the diff_ids\', is refused', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    const a = layerTar(dir, 'a');
    save(dir, [{ tags: ['app:1'], layers: [a], diffIDs: [sha256(a)] }]);
    const [entry] = JSON.parse(fs.readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string }[];
    const config = join(dir, entry!.Config);
    fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('"I=0"', '"I=1"'));
    await assert.rejects(readDockerSave(await openStore(dir), undefined, errors), { code: 'ERR_LAYOUT_INVALID', message: /does not match its digest/ });
    const two = fresh();
    fs.mkdirSync(two);
    save(two, [{ tags: ['app:1'], layers: [a, a], diffIDs: [sha256(a)] }]);
    await assert.rejects(readDockerSave(await openStore(two), undefined, errors), { code: 'ERR_LAYOUT_INVALID', message: /2 layers but 1 diff_ids/ });
  });

  it('as an ImageSource: a Docker manifest (uncompressed: digest = diff_id; gzip: its hash), written to a layout and read back with the same digest', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    const plain = layerTar(dir, 'plain');
    const gz = gzipSync(layerTar(dir, 'zipped'));
    save(dir, [{ tags: ['app:1'], layers: [plain, gz], diffIDs: [sha256(plain), sha256(layerTar(dir, 'zipped'))] }]);
    const archive = `${dir}.tar`;
    assert.equal(spawnSync('tar', ['-cf', archive, '-C', dir, '.']).status, 0);
    for (const where of [dir, archive]) {
      const store = await openStore(where);
      const source = dockerSaveSource(store, await readDockerSave(store, undefined, errors), errors);
      const manifest = await source.manifest(await source.top());
      assert.equal(manifest.descriptor.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
      const { config, layers } = manifestParts(source, manifest);
      assert.deepEqual(layers.map((l) => [l.mediaType, l.digest, l.size]), [
        ['application/vnd.docker.image.rootfs.diff.tar', sha256(plain), plain.length],
        ['application/vnd.docker.image.rootfs.diff.tar.gzip', sha256(gz), gz.length],
      ]);
      assert.deepEqual(await collect((await source.blob(layers[1]!)).open()), gz);
      assert.equal(sha256(await collect((await source.blob(config)).open())), config.digest);
      const out = `${where}-layout`;
      const written = await writeImage(source, new OciLayout(out));
      assert.equal(written.digest, manifest.descriptor.digest);
      assert.equal((await (await layoutSource(out)).top()).digest, manifest.descriptor.digest);
    }
  });

  it('hazard: a layer.tar that is not its diff_id fails as it streams (ERR_DIGEST_MISMATCH); an unsafe layer name is the store\'s error', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    const a = layerTar(dir, 'a');
    const b = layerTar(dir, 'b');
    save(dir, [{ tags: ['app:1'], layers: [b], diffIDs: [sha256(a)] }]);
    const store = await openStore(dir);
    const source = dockerSaveSource(store, await readDockerSave(store, undefined, errors), errors);
    const { layers } = manifestParts(source, await source.manifest(await source.top()));
    await assert.rejects(collect((await source.blob(layers[0]!)).open()), { code: 'ERR_DIGEST_MISMATCH' });
    fs.writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: JSON.parse(fs.readFileSync(join(dir, 'manifest.json'), 'utf8'))[0].Config, Layers: ['../x/layer.tar'] }]));
    await assert.rejects(readDockerSave(await openStore(dir), undefined, errors), { code: 'ERR_LAYOUT_INVALID', message: /unsafe name/ });
  });
});
