// Stream behaviour per engine: sources, backpressure, errors, destroy, abort, concurrency.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import { Layer } from '../../src/layer/layer.js';
import { ErrConsumed, ErrDestroyed, ErrInvalidChunk, ErrNotComputed } from '../../src/core/errors.js';
import { OCI_LAYER_UNCOMPRESSED } from '../../src/core/media-types.js';
import { assertLayer, collect, compress, engines, sha256 } from '../helpers/layer.js';
import { chunked, cut, randomBytes, semiCompressible } from '../helpers/data.js';

function isInvalidChunk(err: unknown): boolean {
  return err instanceof ErrInvalidChunk && err instanceof TypeError && err.code === 'ERR_INVALID_CHUNK';
}

for (const engine of engines) {
  const opts = { engine: engine.name };

  describe(`sources [${engine.name}]`, () => {
    const input = semiCompressible(700_000, 11);
    const sources: Array<[string, () => unknown]> = [
      ['Buffer', () => Buffer.from(input)],
      ['Uint8Array', () => new Uint8Array(input)],
      ['Readable', () => Readable.from(cut(input, 10_000).map((c) => Buffer.from(c)))],
      ['Readable in object mode', () => Readable.from(cut(input, 100_000), { objectMode: true })],
      ['async generator', () => chunked(input, 3000)],
      ['custom AsyncIterable', () => ({
        [Symbol.asyncIterator]() {
          let i = 0;
          return { next: async () => (i < input.length ? { done: false, value: input.subarray(i, (i += 200_000)) } : { done: true, value: undefined }) };
        },
      })],
      ['web ReadableStream', () => new ReadableStream({
        start(controller) {
          for (const c of cut(input, 50_000)) controller.enqueue(new Uint8Array(c));
          controller.close();
        },
      })],
    ];
    let expected: string | undefined;
    for (const [label, make] of sources) {
      it(`${label} gives the same layer`, async () => {
        const { layer, out } = await compress(engine, make() as never);
        assertLayer(layer, out, input);
        expected ??= layer.digest().hex;
        assert.equal(layer.digest().hex, expected);
      });
    }
  });

  describe(`consumption [${engine.name}]`, () => {
    it('values are available in the "end" handler and `done` resolves with them', async () => {
      const layer = new Layer(randomBytes(300_000), opts);
      const stream = layer.compressed();
      let atEnd: string | undefined;
      stream.on('end', () => (atEnd = layer.digest().toString()));
      stream.resume();
      const values = await layer.done;
      await once(stream, 'close');
      assert.equal(atEnd, values.digest.toString());
    });

    it('uncompressed() yields the input and still computes the same values', async () => {
      const input = semiCompressible(1_500_000, 5);
      const reference = (await compress(engine, input, { compressionLevel: 6 })).layer;
      const layer = new Layer(chunked(input, 1000), { ...opts, compressionLevel: 6 });
      const back = await collect(layer.uncompressed());
      assert.ok(back.equals(input));
      assert.ok(layer.digest().equals(reference.digest()));
      assert.ok(layer.diffID().equals(reference.diffID()));
      assert.equal(layer.size(), reference.size());
      assert.throws(() => layer.compressed(), ErrConsumed);
    });

    it("compression 'none' passes bytes through: digest = diffID, size = input length", async () => {
      const input = semiCompressible(600_000, 9);
      const { layer, out } = await compress(engine, chunked(input, 5000), { compression: 'none' });
      assert.ok(out.equals(input));
      assert.equal(layer.diffID().hex, sha256(input));
      assert.ok(layer.digest().equals(layer.diffID()));
      assert.equal(layer.size(), input.length);
      assert.equal(layer.mediaType(), OCI_LAYER_UNCOMPRESSED);
      const empty = await compress(engine, Buffer.alloc(0), { compression: 'none' });
      assert.equal(empty.out.length, 0);
      assert.equal(empty.layer.size(), 0);
    });

    it('16 layers in parallel give correct values', async () => {
      const inputs = Array.from({ length: 16 }, (_, i) => semiCompressible(200_000 + i * 37_000, i + 100));
      const results = await Promise.all(inputs.map((input, i) => compress(engine, chunked(input, 20_000 + i), { compressionLevel: i % 10 })));
      results.forEach(({ layer, out }, i) => assertLayer(layer, out, inputs[i]!));
    });
  });

  describe(`backpressure and bounded reads [${engine.name}]`, () => {
    it('does not pull the whole source when the consumer stops reading', async () => {
      let pulled = 0;
      let finalized = false;
      const chunk = randomBytes(64 * 1024, 3);
      async function* endless() {
        try {
          for (let i = 0; i < 4096; i++) {
            pulled += chunk.length;
            yield Buffer.from(chunk);
          }
        } finally {
          finalized = true;
        }
      }
      const layer = new Layer(endless(), opts);
      const stream = layer.compressed();
      stream.on('readable', () => {}); // fills the internal buffer to its high-water mark, reads nothing
      await sleep(300);
      const first = pulled;
      await sleep(200);
      assert.equal(pulled, first, 'pulling stopped');
      assert.ok(first > 0 && first <= 8 << 20, `pulled ${first} bytes of 256 MiB`);
      stream.destroy();
      await once(stream, 'close');
      await sleep(10);
      assert.ok(finalized, 'destroying the stream returned the source iterator');
      await assert.rejects(layer.done, ErrDestroyed);
    });
  });

  describe(`errors [${engine.name}]`, () => {
    for (const [label, bad] of [['a string', 'text'], ['a number', 42], ['an object', { length: 3 }], ['null', null]] as const) {
      it(`${label} as chunk errors the stream with ErrInvalidChunk`, async () => {
        async function* gen() {
          yield Buffer.from('fine');
          yield bad as never;
        }
        const layer = new Layer(gen(), opts);
        await assert.rejects(collect(layer.compressed()), isInvalidChunk);
        await assert.rejects(layer.done, isInvalidChunk);
        assert.throws(() => layer.size(), ErrNotComputed);
      });
    }

    it('a Readable with an encoding (string chunks) is rejected through the stream', async () => {
      const r = Readable.from([Buffer.from('abc')], { objectMode: false });
      r.setEncoding('utf8');
      await assert.rejects(collect(new Layer(r, opts).compressed()), isInvalidChunk);
    });

    it('a source error reaches the stream and `done`; values stay not computed', async () => {
      const boom = new Error('source failed');
      async function* gen() {
        yield randomBytes(3 << 20);
        throw boom;
      }
      const layer = new Layer(gen(), opts);
      await assert.rejects(collect(layer.compressed()), (err) => err === boom);
      await assert.rejects(layer.done, (err) => err === boom);
      assert.throws(() => layer.digest(), ErrNotComputed);
      assert.throws(() => layer.diffID(), ErrNotComputed);
    });

    it('a Readable source error reaches the stream', async () => {
      const boom = new Error('readable failed');
      const source = new Readable({ read() {} });
      const layer = new Layer(source, opts);
      const result = assert.rejects(collect(layer.compressed()), (err) => err === boom);
      source.push(randomBytes(100_000));
      setImmediate(() => source.destroy(boom));
      await result;
      await assert.rejects(layer.done, (err) => err === boom);
    });

    it('destroying mid-stream destroys a Readable source and a web stream source', async () => {
      const readable = new Readable({ read() { this.push(randomBytes(70_000)); } });
      const a = new Layer(readable, opts).compressed();
      await once(a, 'readable');
      a.destroy();
      await once(a, 'close');
      assert.ok(readable.destroyed);

      let cancelled: unknown = 'not cancelled';
      const web = new ReadableStream({
        pull(c) { c.enqueue(randomBytes(70_000)); },
        cancel(reason) { cancelled = reason; },
      });
      const layerB = new Layer(web, opts);
      const b = layerB.compressed();
      await once(b, 'readable');
      const closed = new Promise((resolve) => b.on('close', resolve));
      b.on('error', () => {});
      b.destroy(new Error('stop'));
      await closed;
      await sleep(10);
      assert.notEqual(cancelled, 'not cancelled');
      await assert.rejects(layerB.done, /stop/);
    });

    it('an unobserved `done` rejection does not surface as an unhandled rejection', async () => {
      const seen: unknown[] = [];
      const onUnhandled = (reason: unknown) => seen.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        const stream = new Layer(randomBytes(1000), opts).compressed();
        stream.on('error', () => {});
        stream.destroy(new Error('nobody listens to done'));
        await sleep(50);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      assert.deepEqual(seen, []);
    });
  });

  describe(`abort signal [${engine.name}]`, () => {
    it('aborting mid-stream destroys the stream with the reason and rejects `done` with it', async () => {
      const controller = new AbortController();
      const readable = new Readable({ read() { this.push(randomBytes(100_000)); } });
      const layer = new Layer(readable, { ...opts, signal: controller.signal });
      const stream = layer.compressed();
      await once(stream, 'readable');
      const reason = new Error('user cancelled');
      controller.abort(reason);
      await assert.rejects(collect(stream), (err) => err === reason);
      await assert.rejects(layer.done, (err) => err === reason);
      assert.ok(readable.destroyed);
      assert.throws(() => layer.digest(), ErrNotComputed);
    });

    it('a signal aborted before consumption fails the stream and `done` with the reason', async () => {
      const controller = new AbortController();
      controller.abort('too late');
      const layer = new Layer(Buffer.from('x'), { ...opts, signal: controller.signal });
      await assert.rejects(layer.done, (err) => err === 'too late');
      await assert.rejects(collect(layer.compressed()), /too late/);
    });

    it('aborting after completion changes nothing', async () => {
      const controller = new AbortController();
      const { layer } = await compress(engine, Buffer.from('abc'), { signal: controller.signal });
      controller.abort();
      assert.equal(layer.size(), (await layer.done).size);
    });
  });
}
