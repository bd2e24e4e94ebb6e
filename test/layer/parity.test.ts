// go-containerregistry pkg/v1/stream layer_test.go behaviours, per engine.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Layer } from '../../src/layer/layer.js';
import { ErrConsumed, ErrDestroyed, ErrNotComputed } from '../../src/core/errors.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_GZIP } from '../../src/core/media-types.js';
import { assertLayer, collect, compress, engines } from '../helpers/layer.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';
import { manyFiles, tarProcess, tempDir } from '../helpers/tree.js';

/** Resolves when `stream` closes; fails the test if that takes longer than `ms`. */
async function closesWithin(stream: NodeJS.EventEmitter, ms: number): Promise<void> {
  const timer = setTimeout(() => stream.emit('error', new Error(`did not close within ${ms} ms`)), ms);
  try {
    await once(stream, 'close');
  } finally {
    clearTimeout(timer);
  }
}

for (const engine of engines) {
  describe(`Go parity [${engine.name}]`, () => {
    it('(1) 10,000 bytes of "a": known diffID, digest and size of the produced bytes', async () => {
      const input = Buffer.alloc(10_000, 'a');
      const { layer, out } = await compress(engine, input);
      assert.equal(layer.diffID().toString(), 'sha256:27dd1f61b867b6a0f6e9d8a41c43231de52107e53ae424de8f847b821db4b711');
      assertLayer(layer, out, input);
    });

    it('(2) different levels give different digests for compressible input', async () => {
      const input = semiCompressible(1 << 20);
      const digests = new Map<string, number>();
      for (let level = 0; level <= 9; level++) {
        const { layer, out } = await compress(engine, input, { compressionLevel: level });
        assertLayer(layer, out, input);
        const d = layer.digest().toString();
        const same = digests.get(d);
        // zlib's levels 8 and 9 differ only in search depth, which may not matter for some inputs.
        assert.ok(same === undefined || (level === 9 && same === 8), `level ${level} gives the same bytes as level ${same}`);
        digests.set(d, level);
      }
      assert.ok(digests.size >= 9);
    });

    it('(3) 10 MB of random bytes round-trips; size is the produced count', async () => {
      const input = randomBytes(10_000_000);
      const { layer, out } = await compress(engine, input);
      assertLayer(layer, out, input);
    });

    it('(4) a 1000-file tar fed through a pipe by a concurrent producer', async () => {
      const dir = tempDir();
      try {
        manyFiles(dir.path, 1000);
        const tar = await collect(tarProcess(dir.path).stdout);
        const child = tarProcess(dir.path);
        const { layer, out } = await compress(engine, child.stdout);
        assertLayer(layer, out, tar);
      } finally {
        dir.remove();
      }
    });

    it('(5) before consumption size, digest and diffID throw ErrNotComputed', async () => {
      const layer = new Layer(Buffer.from('x'), { engine: engine.name });
      assert.throws(() => layer.size(), ErrNotComputed);
      assert.throws(() => layer.digest(), ErrNotComputed);
      assert.throws(() => layer.diffID(), ErrNotComputed);
      const stream = layer.compressed();
      assert.throws(() => layer.digest(), ErrNotComputed, 'still not computed while streaming');
      await collect(stream);
      assert.equal(typeof layer.size(), 'number');
    });

    it('(6) compressed() after full consumption throws ErrConsumed', async () => {
      const { layer } = await compress(engine, Buffer.from('hello'));
      assert.throws(() => layer.compressed(), ErrConsumed);
      assert.throws(() => layer.uncompressed(), ErrConsumed);
    });

    it('(7) destroying the stream right after creating it returns promptly (in-memory source)', async () => {
      const layer = new Layer(randomBytes(4 << 20), { engine: engine.name });
      const stream = layer.compressed();
      stream.destroy();
      await closesWithin(stream, 2000);
      await assert.rejects(layer.done, ErrDestroyed);
      assert.throws(() => layer.digest(), ErrNotComputed);
    });

    it('(7) destroying the stream right after creating it returns promptly (pipe-fed tar)', async () => {
      const child = tarProcess('/usr/share', '--exclude=./doc');
      const layer = new Layer(child.stdout, { engine: engine.name });
      const stream = layer.compressed();
      stream.resume();
      stream.destroy();
      await closesWithin(stream, 2000);
      await assert.rejects(layer.done, ErrDestroyed);
      assert.ok(child.stdout.destroyed, 'the source was destroyed');
      // The producer sees its pipe closed and ends instead of hanging.
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    });

    it('(8) the default media type is Docker\'s; the mediaType option is honoured', async () => {
      const a = await compress(engine, Buffer.from('x'));
      assert.equal(a.layer.mediaType(), DOCKER_LAYER_GZIP);
      const b = await compress(engine, Buffer.from('x'), { mediaType: OCI_LAYER_GZIP });
      assert.equal(b.layer.mediaType(), OCI_LAYER_GZIP);
      assert.equal((await b.layer.done).mediaType, OCI_LAYER_GZIP);
    });
  });
}
