// Construction-time validation, errors, media types and engine selection (engine independent).
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Layer } from '../../src/layer/layer.js';
import * as api from '../../src/index.js';
import { availableEngines, selectEngine } from '../../src/engine/engines.js';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { jsEngine } from '../../src/engine/js-engine.js';

function throwsCoded(fn: () => unknown, ctor: Function, code: string, message?: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ctor, `expected ${ctor.name}, got ${String(err)}`);
    assert.equal((err as { code?: string }).code, code);
    if (message) assert.match((err as Error).message, message);
    return true;
  });
}

describe('Layer construction', () => {
  it('accepts every source kind without reading it', () => {
    let pulled = false;
    async function* gen() {
      pulled = true;
      yield Buffer.from('x');
    }
    for (const source of [
      Buffer.from('x'), new Uint8Array(3), Readable.from([Buffer.from('x')]), gen(), new ReadableStream(),
    ]) {
      assert.ok(new Layer(source as never) instanceof Layer);
    }
    assert.equal(pulled, false);
  });

  for (const [label, source] of [
    ['a string', 'hello'], ['a number', 42], ['null', null], ['undefined', undefined], ['a plain object', {}],
    ['an array of buffers', [Buffer.from('x')]], ['an ArrayBuffer', new ArrayBuffer(4)], ['a function', () => 1],
  ] as const) {
    it(`rejects ${label} as source with ErrInvalidSource (TypeError)`, () => {
      throwsCoded(() => new Layer(source as never), TypeError, 'ERR_INVALID_SOURCE', /layer source must be/);
      throwsCoded(() => new Layer(source as never), api.ErrInvalidSource, 'ERR_INVALID_SOURCE');
    });
  }

  it('rejects a locked web ReadableStream', () => {
    const s = new ReadableStream();
    s.getReader();
    throwsCoded(() => new Layer(s as never), api.ErrInvalidSource, 'ERR_INVALID_SOURCE', /locked/);
  });

  const src = Buffer.from('x');
  for (const level of [-1, 10, 1.5, NaN, Infinity]) {
    it(`rejects compressionLevel ${level} with RangeError`, () => {
      throwsCoded(() => new Layer(src, { compressionLevel: level }), RangeError, 'ERR_OPTION_OUT_OF_RANGE', /0 to 9/);
    });
  }
  it('rejects option values of the wrong type with TypeError', () => {
    throwsCoded(() => new Layer(src, { compressionLevel: '1' as never }), TypeError, 'ERR_INVALID_OPTION', /compressionLevel/);
    throwsCoded(() => new Layer(src, { mediaType: 5 as never }), TypeError, 'ERR_INVALID_OPTION', /mediaType/);
    throwsCoded(() => new Layer(src, { compression: true as never }), TypeError, 'ERR_INVALID_OPTION', /compression/);
    throwsCoded(() => new Layer(src, { signal: {} as never }), TypeError, 'ERR_INVALID_OPTION', /AbortSignal/);
    throwsCoded(() => new Layer(src, { engine: 1 as never }), TypeError, 'ERR_INVALID_OPTION', /engine/);
    throwsCoded(() => new Layer(src, { threads: '2' as never }), TypeError, 'ERR_INVALID_OPTION', /threads/);
    throwsCoded(() => new Layer(src, null as never), TypeError, 'ERR_INVALID_OPTION', /options/);
    throwsCoded(() => new Layer(src, 'fast' as never), TypeError, 'ERR_INVALID_OPTION', /options/);
    throwsCoded(() => new Layer(src, { compresionLevel: 1 } as never), TypeError, 'ERR_INVALID_OPTION', /unknown option/);
  });
  it('rejects unsupported option values with RangeError', () => {
    throwsCoded(() => new Layer(src, { compression: 'brotli' as never }), RangeError, 'ERR_OPTION_OUT_OF_RANGE', /'gzip', 'zstd', 'none' or 'estargz'/);
    throwsCoded(() => new Layer(src, { mediaType: ' ' }), RangeError, 'ERR_OPTION_OUT_OF_RANGE', /mediaType/);
    throwsCoded(() => new Layer(src, { engine: 'wasm' as never }), RangeError, 'ERR_OPTION_OUT_OF_RANGE', /engine/);
    for (const threads of [0, 65, 1.5, -1, NaN, Infinity]) {
      throwsCoded(() => new Layer(src, { threads }), RangeError, 'ERR_OPTION_OUT_OF_RANGE', /threads.*from 1 to 64/);
    }
  });

  it('defaults: level 1, gzip, Docker media type; none defaults to the OCI uncompressed type', () => {
    const l = new Layer(src);
    assert.equal(l.compressionLevel, 1);
    assert.equal(l.compression, 'gzip');
    assert.equal(l.mediaType(), 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.equal(new Layer(src, { compression: 'none' }).mediaType(), 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(new Layer(src, { mediaType: api.OCI_LAYER_GZIP }).mediaType(), api.OCI_LAYER_GZIP);
  });

  it('exports the media type constants', () => {
    assert.equal(api.DOCKER_LAYER_GZIP, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.equal(api.OCI_LAYER_GZIP, 'application/vnd.oci.image.layer.v1.tar+gzip');
    assert.equal(api.OCI_LAYER_ZSTD, 'application/vnd.oci.image.layer.v1.tar+zstd');
    assert.equal(api.OCI_LAYER_UNCOMPRESSED, 'application/vnd.oci.image.layer.v1.tar');
    assert.equal(api.MediaTypes.OCILayerGzip, api.OCI_LAYER_GZIP);
  });

  it('values throw ErrNotComputed before consumption; a second stream request throws ErrConsumed', () => {
    const l = new Layer(src);
    throwsCoded(() => l.digest(), api.ErrNotComputed, 'ERR_LAYER_NOT_COMPUTED', /digest/);
    throwsCoded(() => l.diffID(), api.ErrNotComputed, 'ERR_LAYER_NOT_COMPUTED', /diffID/);
    throwsCoded(() => l.size(), api.ErrNotComputed, 'ERR_LAYER_NOT_COMPUTED', /size/);
    const s = l.compressed();
    throwsCoded(() => l.compressed(), api.ErrConsumed, 'ERR_LAYER_CONSUMED');
    throwsCoded(() => l.uncompressed(), api.ErrConsumed, 'ERR_LAYER_CONSUMED');
    s.destroy();
  });
});

describe('engine selection', () => {
  const saved = process.env.FASTLAYER_ENGINE;
  afterEach(() => {
    if (saved === undefined) delete process.env.FASTLAYER_ENGINE;
    else process.env.FASTLAYER_ENGINE = saved;
  });

  it('lists native first when it loads, js always', () => {
    const names = availableEngines().map((e) => e.name);
    assert.deepEqual(names, nativeEngine ? ['native', 'js'] : ['js']);
    delete process.env.FASTLAYER_ENGINE;
    assert.equal(selectEngine(), availableEngines()[0]);
    assert.equal(new Layer(Buffer.alloc(0)).engine.name, names[0]);
  });

  it('honours FASTLAYER_ENGINE and the engine option', () => {
    process.env.FASTLAYER_ENGINE = 'js';
    assert.equal(selectEngine(), jsEngine);
    assert.equal(new Layer(Buffer.alloc(0)).engine.name, 'js');
    assert.deepEqual(new Layer(Buffer.alloc(0)).engine.details, jsEngine.details);
    process.env.FASTLAYER_ENGINE = '';
    assert.equal(selectEngine(), availableEngines()[0]);
    process.env.FASTLAYER_ENGINE = 'turbo';
    throwsCoded(() => selectEngine(), RangeError, 'ERR_OPTION_OUT_OF_RANGE', /FASTLAYER_ENGINE/);
    assert.equal(selectEngine('js'), jsEngine);
  });

  it('forcing native either gives native or throws ErrEngineUnavailable with the load reason', () => {
    process.env.FASTLAYER_ENGINE = 'native';
    if (nativeEngine) {
      assert.equal(selectEngine(), nativeEngine);
      assert.equal(new Layer(Buffer.alloc(0), { engine: 'native' }).engine.name, 'native');
    } else {
      throwsCoded(() => selectEngine(), api.ErrEngineUnavailable, 'ERR_ENGINE_UNAVAILABLE', /native engine is not available: ./);
      throwsCoded(() => new Layer(Buffer.alloc(0), { engine: 'native' }), api.ErrEngineUnavailable, 'ERR_ENGINE_UNAVAILABLE');
    }
  });
});
