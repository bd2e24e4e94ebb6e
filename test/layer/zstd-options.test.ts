// zstd options and engine choice: levels, media type, and the errors of runtimes that cannot write zstd.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Layer } from '../../src/layer/layer.js';
import { resolveOptions } from '../../src/layer/options.js';
import { selectEngine } from '../../src/engine/engines.js';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { jsZstdUnavailableReason } from '../../src/engine/js-zstd.js';
import { loadNative } from '../../src/engine/native.js';
import { ZSTD_FRAME_SIZE } from '../../src/engine/format.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_GZIP, OCI_LAYER_ZSTD } from '../../src/core/media-types.js';

describe('zstd options', () => {
  it('level defaults to 3 and the media type to OCI zstd', () => {
    const o = resolveOptions({ compression: 'zstd' });
    assert.equal(o.level, 3);
    assert.equal(o.mediaType, OCI_LAYER_ZSTD);
    assert.equal(resolveOptions({ compression: 'zstd', mediaType: OCI_LAYER_GZIP }).mediaType, OCI_LAYER_GZIP);
    // gzip keeps its own defaults.
    assert.equal(resolveOptions({}).level, 1);
    assert.equal(resolveOptions({}).mediaType, DOCKER_LAYER_GZIP);
  });

  it('levels 1-19 are accepted; 0 and the ultra levels 20-22 are refused with a coded RangeError', () => {
    for (const level of [1, 10, 19]) assert.equal(resolveOptions({ compression: 'zstd', compressionLevel: level }).level, level);
    for (const level of [0, 20, 22, -1, 3.5, Number.NaN]) {
      assert.throws(
        () => resolveOptions({ compression: 'zstd', compressionLevel: level }),
        (e: Error & { code?: string }) =>
          e instanceof RangeError && e.code === 'ERR_OPTION_OUT_OF_RANGE' && /from 1 to 19 for zstd/.test(e.message),
        `level ${level}`,
      );
    }
    // gzip's range is unchanged: 10 is still refused there.
    assert.throws(() => resolveOptions({ compressionLevel: 10 }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });

  it('an unknown compression names the four accepted ones', () => {
    assert.throws(() => resolveOptions({ compression: 'brotli' }), (e: Error & { code?: string }) =>
      e instanceof RangeError && e.code === 'ERR_OPTION_OUT_OF_RANGE' && /'gzip', 'zstd', 'none' or 'estargz'/.test(e.message));
    assert.throws(() => resolveOptions({ compression: 3 }), { code: 'ERR_INVALID_OPTION' });
  });
});

describe('zstd engine choice', () => {
  it('a zstd layer picks the native engine when it loads', (t) => {
    if (!nativeEngine) return t.skip(`the addon does not load: ${loadNative().error?.message}`);
    assert.equal(selectEngine(undefined, { level: 3, compression: 'zstd' }).name, 'native');
    assert.equal(new Layer(new Uint8Array(1), { compression: 'zstd' }).engine.name, 'native');
    assert.ok(nativeEngine.details.zstd, 'the native engine reports its libzstd version');
    // native/core/zstd_frames.h and src/engine/format.ts must agree on the frame size.
    assert.equal(loadNative().addon!.info.zstdFrameSize, ZSTD_FRAME_SIZE);
  });

  it('the addon refuses zstd level 0 and 20 and gzip level 10 itself', (t) => {
    const { addon } = loadNative();
    if (!addon) return t.skip('the addon does not load');
    for (const [level, mode] of [[0, 2], [20, 2], [10, 0]] as const) {
      assert.throws(() => new addon.Pipeline(level, mode), { code: 'ERR_OUT_OF_RANGE' }, `level ${level} mode ${mode}`);
    }
    assert.throws(() => new addon.Pipeline(3, 3), { code: 'ERR_OUT_OF_RANGE' });
    new addon.Pipeline(19, 2, 16).destroy();
  });

  it('on a runtime without node:zlib zstd, engine js refuses zstd layers with ErrEngineUnavailable naming why', (t) => {
    const reason = jsZstdUnavailableReason();
    if (reason === undefined) return t.skip(`Node ${process.version} has node:zlib zstd; run on Node 20 to test this`);
    assert.throws(() => new Layer(new Uint8Array(1), { compression: 'zstd', engine: 'js' }), (e: Error & { code?: string }) =>
      e.code === 'ERR_ENGINE_UNAVAILABLE' && e.message.includes('zstd') && e.message.includes(process.version) && e.message.includes('22.15'));
  });

  it('hazard: without the addon and without node:zlib zstd, a zstd layer fails at construction naming both reasons', (t) => {
    if (jsZstdUnavailableReason() === undefined) return t.skip(`Node ${process.version} has node:zlib zstd, so js is the fallback`);
    // A child that cannot load any addon: FASTLAYER_PREBUILD points the loader at a missing folder.
    const script = `
      const { Layer } = await import(${JSON.stringify(new URL('../../src/layer/layer.js', import.meta.url).href)});
      try { new Layer(new Uint8Array(1), { compression: 'zstd' }); console.log('no error'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, FASTLAYER_PREBUILD: '/nonexistent-fastlayer-package', FASTLAYER_ENGINE: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim()) as { code: string; message: string };
    assert.equal(result.code, 'ERR_ENGINE_UNAVAILABLE');
    assert.match(result.message, /zstd layers/);
    assert.match(result.message, /22\.15/);
  });
});
