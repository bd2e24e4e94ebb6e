// Platforms: what parsePlatform accepts (checked types, never converted), which image of an index a
// wanted platform picks (containerd's defaults, os.version by build), and what the built config says
// when a base gives the platform (its variant, os.version and os.features kept).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Image } from '../../src/image/image.js';
import { parsePlatform } from '../../src/image/platform.js';
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
