// LayerCompressionStream: the web streams form, `readable.pipeThrough(new LayerCompressionStream())`.
// Same bytes as the Layer, BufferSource chunks only, backpressure through the web streams' queues,
// errors, aborts and cancels reaching both sides and `done`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { ErrDestroyed, ErrInvalidChunk, ErrInvalidOption, ErrNotComputed } from '../../src/core/errors.js';
import { Layer } from '../../src/layer/layer.js';
import { LayerCompressionStream } from '../../src/layer/web-stream.js';
import { OCI_LAYER_UNCOMPRESSED } from '../../src/core/media-types.js';
import { cut, randomBytes, semiCompressible } from '../helpers/data.js';
import { assertSingleMember, collect, engines, sha256 } from '../helpers/layer.js';
import { layerBytes, randomCuts, settledValue, webSink, webSource } from '../helpers/streams.js';
import { tempDir } from '../helpers/tree.js';

const MiB = 1024 * 1024;
const INPUT = semiCompressible(2 * MiB + 4321, 5);
const hasGzip = spawnSync('gzip', ['--version']).status === 0;

async function throughWeb(chunks: unknown[], options: ConstructorParameters<typeof LayerCompressionStream>[0]) {
  const stream = new LayerCompressionStream(options);
  const sink = webSink();
  await webSource(chunks as Uint8Array[]).pipeThrough(stream).pipeTo(sink);
  return { stream, out: sink.bytes() };
}

for (const engine of engines) {
  describe(`LayerCompressionStream [${engine.name}]`, () => {
    it('file -> pipeThrough(new LayerCompressionStream({ compressionLevel: 1 })) -> file: one valid member, the files\' hashes', async (t) => {
      const dir = tempDir();
      try {
        const src = join(dir.path, 'layer.tar');
        const dest = join(dir.path, 'layer.tar.gz');
        writeFileSync(src, semiCompressible(3 * MiB + 99, 12));
        const stream = new LayerCompressionStream({ compressionLevel: 1, engine: engine.name });
        const readable = Readable.toWeb(createReadStream(src)) as unknown as ReadableStream<Uint8Array>;
        await readable.pipeThrough(stream).pipeTo(Writable.toWeb(createWriteStream(dest)));
        const input = readFileSync(src);
        const output = readFileSync(dest);
        assert.ok(zlib.gunzipSync(output).equals(input));
        assertSingleMember(output, input);
        assert.equal(stream.digest().toString(), `sha256:${sha256(output)}`);
        assert.equal(stream.diffID().toString(), `sha256:${sha256(input)}`);
        assert.equal(stream.size(), statSync(dest).size);
        assert.equal((await stream.done).size, output.length);
        if (!hasGzip) t.diagnostic('gzip is not installed: gzip -t not run');
        else assert.equal(spawnSync('gzip', ['-t', dest]).status, 0, 'gzip -t accepts the output');
      } finally {
        dir.remove();
      }
    });

    for (const level of [1, 6]) {
      it(`level ${level}: the same bytes and values as new Layer() for every chunking`, async () => {
        const ref = await layerBytes(Layer, INPUT, { engine: engine.name, compressionLevel: level });
        const chunkings: [string, Uint8Array[]][] = [
          ['one chunk', [INPUT]],
          ['4096 bytes', cut(INPUT, 4096)],
          ['64 KiB', cut(INPUT, 65_536)],
          ['random sizes up to 200 KiB', randomCuts(INPUT, 200_000, 9)],
        ];
        for (const [name, chunks] of chunkings) {
          const { stream, out } = await throughWeb(chunks, { engine: engine.name, compressionLevel: level });
          assert.ok(out.equals(ref.out), `${name}: bytes differ from the Layer's`);
          assert.equal(stream.digest().toString(), ref.digest, name);
          assert.equal(stream.diffID().toString(), ref.diffID, name);
          assert.equal(stream.size(), ref.size, name);
        }
      });
    }

    it('every BufferSource is taken (ArrayBuffer, DataView, other typed arrays), as CompressionStream takes them', async () => {
      const a = INPUT.subarray(0, 1000);
      const b = INPUT.subarray(1000, 3000);
      const c = INPUT.subarray(3000, 4000);
      const chunks = [
        a.buffer.slice(a.byteOffset, a.byteOffset + a.length),
        new DataView(b.buffer, b.byteOffset, b.length),
        new Uint16Array(c.buffer, c.byteOffset, c.length / 2),
        Buffer.from(INPUT.subarray(4000, 5000)),
      ];
      const { out } = await throughWeb(chunks, { engine: engine.name });
      assert.ok(zlib.gunzipSync(out).equals(INPUT.subarray(0, 5000)));
    });

    it('a chunk that is not a BufferSource: TypeError (ErrInvalidChunk) on both sides, done rejects, nothing hangs', async () => {
      for (const bad of ['text', 42, {}, null]) {
        const stream = new LayerCompressionStream({ engine: engine.name });
        const writer = stream.writable.getWriter();
        const reading = collect(stream.readable as AsyncIterable<Uint8Array>).then(
          () => assert.fail('the readable side ended normally'),
          (err: unknown) => err,
        );
        await writer.write(INPUT.subarray(0, 100));
        const err = await writer.write(bad as Uint8Array).then(() => assert.fail('write accepted'), (e: unknown) => e);
        assert.ok(err instanceof ErrInvalidChunk && err instanceof TypeError && err.code === 'ERR_INVALID_CHUNK', String(err));
        assert.equal(await reading, err, 'the readable side errors with the same TypeError');
        assert.equal(await stream.done.catch((e: unknown) => e), err);
        assert.throws(() => stream.digest(), ErrNotComputed);
      }
    });

    it('values: ErrNotComputed before close; set once writer.close() resolves, even while nobody reads', async () => {
      const input = INPUT.subarray(0, 300_000);
      const stream = new LayerCompressionStream({ engine: engine.name });
      const writer = stream.writable.getWriter();
      await writer.write(input);
      assert.throws(() => stream.size(), (e: unknown) => e instanceof ErrNotComputed && e.code === 'ERR_LAYER_NOT_COMPUTED');
      await writer.close();
      const ref = await layerBytes(Layer, input, { engine: engine.name });
      assert.equal(stream.digest().toString(), ref.digest);
      const out = await collect(stream.readable as AsyncIterable<Uint8Array>);
      assert.ok(out.equals(ref.out));
    });

    it('compression none and the level alias go through the Layer\'s options', async () => {
      const input = INPUT.subarray(0, 200_000);
      const { stream, out } = await throughWeb(cut(input, 5000), { engine: engine.name, compression: 'none' });
      assert.ok(out.equals(input));
      assert.ok(stream.digest().equals(stream.diffID()));
      assert.equal(stream.mediaType(), OCI_LAYER_UNCOMPRESSED);
      assert.equal(new LayerCompressionStream({ level: 7, engine: engine.name }).compressionLevel, 7);
    });

    it('a stalled reader stops the producer (a few MiB of 48), then everything arrives', async (t) => {
      const block = randomBytes(MiB, 8);
      const total = 48 * MiB;
      let pulled = 0;
      const source = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= total) return controller.close();
          controller.enqueue(block.subarray(pulled % MiB, (pulled % MiB) + 65_536));
          pulled += 65_536;
        },
      });
      const stream = new LayerCompressionStream({ engine: engine.name, compressionLevel: 1 });
      const readable = source.pipeThrough(stream);
      const stalled = await settledValue(() => pulled);
      t.diagnostic(`pulled while nobody read: ${(stalled / MiB).toFixed(2)} MiB`);
      assert.ok(stalled < 12 * MiB, `the producer ran ahead by ${(stalled / MiB).toFixed(1)} MiB`);
      const out = await collect(readable as AsyncIterable<Uint8Array>);
      assert.equal(pulled, total);
      assert.equal(stream.size(), out.length);
      assert.equal(stream.digest().hex, sha256(out));
    });

    it('writer.abort(reason): the readable side errors with the reason, done rejects with it', async () => {
      const stream = new LayerCompressionStream({ engine: engine.name });
      const writer = stream.writable.getWriter();
      const reader = stream.readable.getReader();
      await writer.write(INPUT.subarray(0, 100_000));
      const reason = new Error('producer gave up');
      await writer.abort(reason);
      await assert.rejects(reader.read(), (e: unknown) => e === reason);
      assert.equal(await stream.done.catch((e: unknown) => e), reason);
    });

    it('writer.abort() without a reason: done rejects with ErrDestroyed', async () => {
      const stream = new LayerCompressionStream({ engine: engine.name });
      await stream.writable.abort();
      assert.ok((await stream.done.catch((e: unknown) => e)) instanceof ErrDestroyed);
    });

    it('readable.cancel(reason): the next write rejects with the reason, done rejects with it', async () => {
      const stream = new LayerCompressionStream({ engine: engine.name });
      const writer = stream.writable.getWriter();
      const reason = new Error('consumer gave up');
      await stream.readable.cancel(reason);
      await assert.rejects(writer.write(INPUT.subarray(0, 10)), (e: unknown) => e === reason);
      assert.equal(await stream.done.catch((e: unknown) => e), reason);
    });
  });
}

describe('LayerCompressionStream options', () => {
  it('Node stream and zlib options are refused with ERR_INVALID_OPTION', () => {
    for (const options of [{ highWaterMark: 1 }, { windowBits: 15 }, { chunkSize: 1024 }, { objectMode: true }]) {
      assert.throws(() => new LayerCompressionStream(options as object), (e: unknown) => e instanceof ErrInvalidOption && e.code === 'ERR_INVALID_OPTION');
    }
    assert.throws(() => new LayerCompressionStream({ compressionLevel: 3, level: 4 }), RangeError);
  });
});
