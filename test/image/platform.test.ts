// Platforms: what parsePlatform accepts (checked types, never converted), which image of an index a
// wanted platform picks (containerd's defaults, os.version by build), and what the built config says
// when a base gives the platform (its variant, os.version and os.features kept).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Image, ImageIndex } from '../../src/image/image.js';
import { parsePlatform, pickPlatform, platformMatches } from '../../src/image/platform.js';
import { selectPlatforms } from '../../src/image/source.js';
import { Layer } from '../../src/layer/layer.js';
import { tarDirectory } from '../../src/tar/directory.js';
import { writeLayout } from '../../src/layout/layout.js';
import { layoutSource } from '../../src/layout/source.js';
import { loadBase } from '../../src/build/base.js';
import { buildImage } from '../../src/build/build.js';
import { pulledBase } from '../../src/registry/pulled-base.js';
import { tempDir } from '../helpers/tree.js';
import { OCI_LAYER_GZIP } from '../../src/core/media-types.js';
import type { BaseImage } from '../../src/image/image.js';
import type { KnownBlob, Platform } from '../../src/image/types.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const AMD64 = { os: 'linux', architecture: 'amd64' };

const known = (): KnownBlob => ({ kind: 'known', descriptor: { mediaType: OCI_LAYER_GZIP, digest: D1, size: 10 }, diffID: D2, open: () => Readable.from([Buffer.alloc(10)]) });

/** A base whose config and platform are `platform`'s. */
export function baseOf(platform: Platform, layers: () => unknown = () => [known()]): BaseImage {
  return { config: { ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [D2] } }, platform, source: 'test-base', layers: layers as () => KnownBlob[] };
}

describe('parsePlatform', () => {
  it('hazard: os.version and os.features of the wrong type are coded errors, not a TypeError or a mangled value', () => {
    const bad: [string, unknown][] = [['os.features', 5], ['os.features', 'sse4'], ['os.features', ['a', 1]], ['os.version', {}], ['os.version', 10]];
    for (const [key, value] of bad) {
      assert.throws(() => parsePlatform({ ...AMD64, [key]: value } as unknown as Platform), { code: 'ERR_INVALID_OPTION', message: new RegExp(`platform\\.${key.replace('.', '\\.')}`) }, `${key}: ${JSON.stringify(value)}`);
      assert.throws(() => new Image({ platform: { ...AMD64, [key]: value } as unknown as Platform }), { code: 'ERR_INVALID_OPTION' });
    }
    assert.deepEqual(parsePlatform({ ...AMD64, 'os.version': '10.0.1', 'os.features': ['win32k'] }), { ...AMD64, 'os.version': '10.0.1', 'os.features': ['win32k'] });
  });

  it('hazard: a base whose layers() is not an array is refused with a coded error', () => {
    for (const layers of [() => null, () => 'x', () => [null]]) {
      assert.throws(() => new Image({ base: baseOf(AMD64, layers) }), { code: 'ERR_INVALID_OPTION', message: /base/ });
    }
  });
});

const WIN = { os: 'windows', architecture: 'amd64' };
const p = (s: string, extra: Partial<Platform> = {}): Platform => ({ ...parsePlatform(s), ...extra });

describe('which image of an index a platform picks', () => {
  it('hazard: linux/arm means arm/v7 (containerd\'s default), a v6 image only where there is no v7 one, never the first arm image', () => {
    const children = [p('linux/amd64'), p('linux/arm/v6'), p('linux/arm/v7'), p('linux/arm64/v8')].map((platform) => ({ platform }));
    assert.equal(pickPlatform(children, p('linux/arm')), 2);
    assert.equal(pickPlatform(children, p('linux/arm64')), 3);
    assert.equal(pickPlatform(children, p('linux/arm/v6')), 1);
    // containerd's platforms.Only: an arm/v7 machine runs v6 and v5 images, an amd64/v3 one v2 and v1;
    // never the other way round.
    assert.equal(pickPlatform([{ platform: p('linux/arm/v6') }], p('linux/arm')), 0);
    assert.equal(pickPlatform([p('linux/arm/v5'), p('linux/arm/v6')].map((platform) => ({ platform })), p('linux/arm')), 1);
    assert.equal(pickPlatform([{ platform: p('linux/arm/v7') }], p('linux/arm/v6')), -1);
    assert.equal(pickPlatform([p('linux/amd64'), p('linux/amd64/v2')].map((platform) => ({ platform })), p('linux/amd64/v3')), 1);
    assert.equal(pickPlatform([{ platform: p('linux/amd64/v2') }], p('linux/amd64')), -1);
    // An arm image without a variant is v7 too; arm64's v8 and amd64's v1 are their defaults.
    assert.ok(platformMatches(p('linux/arm'), p('linux/arm/v7')));
    assert.ok(platformMatches(p('linux/arm64'), p('linux/arm64/v8')) && platformMatches(p('linux/arm64/v8'), p('linux/arm64')));
    assert.ok(platformMatches(p('linux/amd64/v1'), p('linux/amd64')) && platformMatches(p('linux/amd64'), p('linux/amd64/v1')));
    assert.ok(!platformMatches(p('linux/amd64/v3'), p('linux/amd64')));
  });

  it('hazard: a wanted os.version picks an image of that Windows build (major.minor.build), the exact one first', () => {
    const children = ['10.0.17763.5329', '10.0.20348.1000', '10.0.20348.2227'].map((v) => ({ platform: { ...WIN, 'os.version': v } }));
    assert.equal(pickPlatform(children, { ...WIN, 'os.version': '10.0.20348.2227' }), 2);
    assert.equal(pickPlatform(children, { ...WIN, 'os.version': '10.0.20348.9' }), 1);
    assert.equal(pickPlatform(children, { ...WIN, 'os.version': '10.0.20348' }), 1);
    assert.equal(pickPlatform(children, { ...WIN, 'os.version': '10.0.26100.1' }), -1);
    assert.equal(pickPlatform(children, WIN), 0, 'no os.version wanted: the first');
    assert.ok(!platformMatches(WIN, { ...WIN, 'os.version': '10.0.17763.1' }), 'an image without os.version is not of a wanted build');
  });

  it('hazard: an index holds Windows images that differ in os.version only; linux/arm64 and linux/arm64/v8 are one platform', () => {
    const win = (v: string) => new Image({ platform: { ...WIN, 'os.version': v } });
    assert.equal(new ImageIndex([win('10.0.17763.5329'), win('10.0.20348.2227')]).images.length, 2);
    assert.throws(() => new ImageIndex([win('10.0.17763.5329'), win('10.0.17763.5329')]), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new ImageIndex([new Image({ platform: 'linux/arm64' }), new Image({ platform: 'linux/arm64/v8' })]), { code: 'ERR_OPTION_OUT_OF_RANGE' });
    assert.throws(() => new ImageIndex([new Image({ platform: 'linux/arm' }), new Image({ platform: 'linux/arm/v7' })]), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });

  it('hazard: loadBase and selectPlatforms pick by os.version, loadBase by arm\'s default variant', async () => {
    const { tmp, ctx } = contextTree();
    const mk = (platform: Platform) => new Image({ layers: [new Layer(tarDirectory(ctx))], platform, env: [`P=${JSON.stringify(platform)}`] });
    const win = join(tmp.path, 'win');
    const w17763 = { ...WIN, 'os.version': '10.0.17763.5329' };
    const w20348 = { ...WIN, 'os.version': '10.0.20348.2227' };
    await writeLayout(new ImageIndex([mk(w17763), mk(w20348)]), win, { names: ['win:1'] });
    const want = { ...WIN, 'os.version': '10.0.20348.2227' };
    assert.deepEqual((await loadBase(win, { platform: want })).config.config, { Env: [`P=${JSON.stringify(w20348)}`] });
    assert.deepEqual((await (await selectPlatforms(await layoutSource(win), [want])).top()).platform, w20348);
    await assert.rejects(loadBase(win, { platform: { ...WIN, 'os.version': '10.0.26100.1' } }), { code: 'ERR_BASE_IMAGE', message: /os\.version 10\.0\.26100\.1/ });
    const multi = join(tmp.path, 'multi');
    await writeLayout(new ImageIndex(['linux/amd64', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm64/v8'].map((s) => mk(p(s)))), multi, { names: ['multi:1'] });
    assert.deepEqual((await loadBase(multi, { platform: 'linux/arm' })).config.config, { Env: [`P=${JSON.stringify(p('linux/arm/v7'))}`] });
  });
});

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** An OCI layout whose index lists one image per `[config, listed platform]`, each with one empty layer. */
function layoutOf(dir: string, images: [Record<string, unknown>, Platform][]): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (mediaType: string, b: Buffer) => {
    writeFileSync(join(dir, 'blobs', 'sha256', sha(b).slice(7)), b);
    return { mediaType, digest: sha(b), size: b.length };
  };
  const layer = Buffer.alloc(1024);
  const manifests = images.map(([config, platform]) => {
    const c = put('application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: [sha(layer)] } })));
    const l = put('application/vnd.oci.image.layer.v1.tar', layer);
    return { ...put('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: c, layers: [l] }))), platform };
  });
  const index = put('application/vnd.oci.image.index.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests })));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [index] }));
}

/** The config a layout's only (top) image has, and its index entry's platform when the top is an index. */
function written(dir: string): { config: Record<string, unknown>; listed?: Platform } {
  const blob = (d: string) => JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  let d = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')).manifests[0];
  let doc = blob(d.digest);
  if (doc.manifests) {
    d = doc.manifests[0];
    doc = blob(d.digest);
  }
  return { config: blob(doc.config.digest), listed: d.platform };
}

/** A temp folder (removed after the test) holding `ctx`, a one-file tree to make layers of. */
function contextTree(): { tmp: ReturnType<typeof tempDir>; ctx: string } {
  const tmp = tempDir('fastlayer-platform-');
  after(() => tmp.remove());
  const ctx = join(tmp.path, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'f'), 'x');
  return { tmp, ctx };
}

/** A config's bytes as pull() would have them, for pulledBase without layers. */
const noLayers = (config: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: [] } }));

describe('a base\'s platform is its whole platform', () => {
  const WIN_BASE = { ...WIN, 'os.version': '10.0.17763.1234', 'os.features': ['win32k'] };

  it('hazard: os.version and os.features of a base reach the built config (loadBase, a pulled image, a BaseImage made by hand)', async () => {
    const { tmp, ctx } = contextTree();
    const dir = join(tmp.path, 'winbase');
    await writeLayout(new Image({ layers: [new Layer(tarDirectory(ctx))], platform: WIN_BASE }), dir, { names: ['winbase:1'] });
    const base = await loadBase(dir);
    assert.deepEqual(base.platform, WIN_BASE);
    const out = join(tmp.path, 'out');
    await writeLayout(new Image({ base, layers: [new Layer(tarDirectory(ctx))] }), out, { names: ['out:1'] });
    const { config } = written(out);
    assert.deepEqual([config.os, config.architecture, config['os.version'], config['os.features']], ['windows', 'amd64', '10.0.17763.1234', ['win32k']]);
    // pull()'s base: the same fields from the config bytes.
    assert.deepEqual(pulledBase({ source: 'reg/win:1', configBytes: noLayers(base.config), layers: [] }).platform, WIN_BASE);
    // A BaseImage whose platform names only os and architecture: the config's values are kept.
    const hand = { ...baseOf(WIN), config: { ...baseOf(WIN).config, 'os.version': '10.0.17763.1234', 'os.features': ['win32k'] } };
    const json = new Image({ base: hand }).configJSON([D2]);
    assert.deepEqual([json['os.version'], json['os.features']], ['10.0.17763.1234', ['win32k']]);
  });

  it('hazard: a variant only the index entry names (the config lacks it) is the base\'s, and the built image\'s', async () => {
    const tmp = tempDir('fastlayer-platform-');
    after(() => tmp.remove());
    const dir = join(tmp.path, 'arm');
    layoutOf(dir, [[{ os: 'linux', architecture: 'arm', config: {} }, p('linux/arm/v6')], [{ os: 'linux', architecture: 'arm64', config: {} }, p('linux/arm64/v8')]]);
    const v6 = await loadBase(dir, { platform: 'linux/arm/v6' });
    assert.deepEqual(v6.platform, p('linux/arm/v6'));
    assert.deepEqual((await loadBase(dir, { platform: 'linux/arm64' })).platform, p('linux/arm64/v8'));
    const out = join(tmp.path, 'out');
    await writeLayout(new ImageIndex([new Image({ base: v6 })]), out, { names: ['out:1'] });
    const { config, listed } = written(out);
    assert.equal(config.variant, 'v6');
    assert.deepEqual(listed, p('linux/arm/v6'));
    assert.deepEqual(pulledBase({ source: 'reg/arm:1', configBytes: noLayers(v6.config), layers: [], listed: p('linux/arm/v6') }).platform, p('linux/arm/v6'));
  });
});

describe('an image on a base is of the base\'s platform', () => {
  it('hazard: a platform option that does not match the base is ERR_BASE_IMAGE, not a config that lies about the layers', () => {
    assert.throws(() => new Image({ base: baseOf(p('linux/amd64')), platform: 'linux/arm64' }), { code: 'ERR_BASE_IMAGE', message: /linux\/amd64, not linux\/arm64/ });
    assert.throws(() => new Image({ base: baseOf(p('linux/arm/v7')), platform: 'linux/arm/v6' }), { code: 'ERR_BASE_IMAGE' });
    // A v6 base runs where linux/arm (v7) is asked for: the image is the base's, v6.
    assert.deepEqual(new Image({ base: baseOf(p('linux/arm/v6')), platform: 'linux/arm' }).platform, p('linux/arm/v6'));
    assert.throws(() => new Image({ base: baseOf({ ...WIN, 'os.version': '10.0.17763.1' }), platform: { ...WIN, 'os.version': '10.0.20348.1' } }), { code: 'ERR_BASE_IMAGE' });
    assert.throws(() => new Image({ base: { ...baseOf(AMD64), platform: null as unknown as Platform } }), { code: 'ERR_INVALID_OPTION', message: /base\.platform/ });
  });

  it('hazard: a platform option saying less than the base (no variant, no os.version) gives the base\'s whole platform', () => {
    const v7 = new Image({ base: baseOf(p('linux/arm/v7')), platform: 'linux/arm' });
    assert.deepEqual(v7.platform, p('linux/arm/v7'));
    assert.equal(v7.configJSON([D2]).variant, 'v7');
    const win = { ...WIN, 'os.version': '10.0.17763.1', 'os.features': ['win32k'] };
    assert.deepEqual(new Image({ base: baseOf(win), platform: 'windows/amd64' }).platform, win);
    assert.deepEqual(new Image({ base: baseOf(p('linux/arm64/v8')), platform: 'linux/arm64' }).platform, p('linux/arm64/v8'));
  });

  it('hazard: --platform linux/arm,linux/arm64 on a multi-platform base: arm/v7 and arm64/v8 in the index and the configs', async () => {
    const { tmp, ctx } = contextTree();
    const multi = join(tmp.path, 'multi');
    await buildImage({ layers: [ctx], platform: 'linux/amd64,linux/arm/v6,linux/arm/v7,linux/arm64/v8', tags: ['multi:1'], ociDir: multi });
    const out = join(tmp.path, 'out');
    const r = await buildImage({ layers: [ctx], base: multi, platform: 'linux/arm,linux/arm64', tags: ['out:1'], ociDir: out });
    const blob = (d: string) => JSON.parse(readFileSync(join(out, 'blobs', 'sha256', d.slice(7)), 'utf8'));
    const listed = blob(r.digest).manifests.map((m: { platform: Platform }) => m.platform);
    assert.deepEqual(listed, [p('linux/arm/v7'), p('linux/arm64/v8')]);
    assert.deepEqual(r.images.map((i) => blob(i.config.digest).variant), ['v7', 'v8']);
  });
});
