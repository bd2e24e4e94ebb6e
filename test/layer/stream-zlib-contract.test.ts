// zlib's stream contract, kept by createGzip() and LayerCompressionStream (issue 19, items 10-12):
// a write's callback means the chunk is no longer needed (a producer may reuse or transfer it), zlib's
// methods exist and answer (or refuse with a coded error, never "is not a function"), and `level`
// follows the compression's range.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import type { Compression, EngineFactory } from '../../src/engine/engine.js';
import { jsZstdUnavailableReason } from '../../src/engine/js-zstd.js';
import { ErrChunkDetached, ErrDestroyed, ErrOptionRange } from '../../src/core/errors.js';
import { createGzip, type LayerTransform } from '../../src/layer/create-gzip.js';
import { BLOCK_SIZE, ZSTD_FRAME_SIZE } from '../../src/engine/format.js';
import { ErrNotSupported } from '../../src/layer/errors.js';
import { Layer } from '../../src/layer/layer.js';
import { LayerCompressionStream } from '../../src/layer/web-stream.js';
import { semiCompressible } from '../helpers/data.js';
import { assertSingleMember, engines, sha256 } from '../helpers/layer.js';
import { layerBytes, nodeSink, webSink } from '../helpers/streams.js';
import { decodeZstd, walkFrames } from '../helpers/zstd.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Whether `engine` writes `compression` here (zstd needs libzstd in the addon, or Node >= 22.15). */
function writes(engine: EngineFactory, compression: Compression): boolean {
  if (compression !== 'zstd') return true;
  if (engine.name === 'js') return jsZstdUnavailableReason() === undefined;
  return engine.supports?.({ level: 3, compression: 'zstd' }) !== false;
}

function decode(compression: Compression, out: Buffer): Buffer | undefined {
  if (compression === 'gzip') return zlib.gunzipSync(out);
  if (compression === 'zstd') return decodeZstd(out);
  return out;
}

/** Writes `chunk` and resolves on its callback (rejects with the callback's error). */
function written(gz: LayerTransform, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => gz.write(chunk, (err) => (err ? reject(err) : resolve())));
}

// Chunk size -> input size: every path a chunk can take (copied small chunks, views of 4 KiB and
// more, a chunk over one engine input, over several) and zstd's 8 MiB frame boundary for the largest.
const SIZES: ReadonlyArray<readonly [number, number]> = [
  [1, 20_000],
  [100, 300_001],
  [4095, 1 * MiB + 5],
  [4096, 1 * MiB + 4097],
  [64 * KiB, 3 * MiB + 17],
  [MiB, 5 * MiB + 3],
  [4 * MiB, 9 * MiB + 1],
];

async function expectLayer(input: Uint8Array, out: Buffer, values: { digest: string; diffID: string; size: number }, engine: EngineFactory, compression: Compression) {
  const decoded = decode(compression, out);
  if (decoded) assert.ok(decoded.equals(input), 'the output decodes to the input');
  const ref = await layerBytes(Layer, input, { engine: engine.name, compression });
  assert.ok(out.equals(ref.out), 'the same bytes as a Layer of the input');
  assert.equal(values.digest, ref.digest);
  assert.equal(values.diffID, ref.diffID);
  assert.equal(values.size, ref.size);
}

for (const engine of engines) {
  for (const compression of ['gzip', 'zstd'] as const) {
    describe(`a written chunk is free once its write completes [${engine.name}, ${compression}]`, () => {
      for (const [chunkSize, total] of SIZES) {
        it(`createGzip: one ${chunkSize}-byte buffer reused after each write's callback`, async (t) => {
          if (!writes(engine, compression)) return t.skip(`the ${engine.name} engine does not write zstd here`);
          const input = semiCompressible(total, chunkSize);
          const gz = createGzip({ engine: engine.name, compression });
          const sink = nodeSink();
          gz.pipe(sink);
          let buffer = Buffer.alloc(chunkSize);
          let i = 0;
          for (let pos = 0; pos < input.length; pos += chunkSize) {
            const n = Math.min(chunkSize, input.length - pos);
            buffer.set(input.subarray(pos, pos + n));
            await written(gz, buffer.subarray(0, n));
            // Free now (zlib's contract): refilled, or every third time transferred away.
            if (i++ % 3 !== 2) {
              buffer.fill(0xa5);
            } else {
              structuredClone(buffer.buffer, { transfer: [buffer.buffer as ArrayBuffer] });
              buffer = Buffer.alloc(chunkSize);
            }
          }
          gz.end();
          await once(sink, 'finish');
          const { digest, diffID, size } = await gz.done;
          await expectLayer(input, sink.bytes(), { digest: digest.toString(), diffID: diffID.toString(), size }, engine, compression);
          assert.equal(gz.bytesWritten, input.length);
        });
      }

      it('createGzip: corked writes and writes without waiting, each buffer scribbled in its own callback', async (t) => {
        if (!writes(engine, compression)) return t.skip(`the ${engine.name} engine does not write zstd here`);
        const input = semiCompressible(6 * MiB + 333, 5);
        const gz = createGzip({ engine: engine.name, compression });
        const sink = nodeSink();
        gz.pipe(sink);
        let pos = 0;
        let round = 0;
        while (pos < input.length) {
          // Alternately a corked batch (handed over together) and plain writes up to the high-water mark.
          const corked = round++ % 2 === 0;
          if (corked) gz.cork();
          let more = true;
          for (let i = 0; i < 40 && more && pos < input.length; i++) {
            const n = Math.min([1, 700, 5000, 64 * KiB, 300 * KiB][i % 5]!, input.length - pos);
            const chunk = Buffer.from(input.subarray(pos, pos + n));
            pos += n;
            more = gz.write(chunk, () => chunk.fill(0x5a));
          }
          if (corked) gz.uncork();
          if (!more) await once(gz, 'drain');
        }
        gz.end();
        await once(sink, 'finish');
        const { digest, diffID, size } = await gz.done;
        await expectLayer(input, sink.bytes(), { digest: digest.toString(), diffID: diffID.toString(), size }, engine, compression);
      });

      for (const [chunkSize, total] of SIZES.filter(([c]) => c >= 100)) {
        it(`LayerCompressionStream: one ${chunkSize}-byte buffer reused after each write resolves, then transferred`, async (t) => {
          if (!writes(engine, compression)) return t.skip(`the ${engine.name} engine does not write zstd here`);
          const input = semiCompressible(total, chunkSize + 1);
          const stream = new LayerCompressionStream({ engine: engine.name, compression });
          const sink = webSink();
          const piped = stream.readable.pipeTo(sink);
          const writer = stream.writable.getWriter();
          let buffer = new Uint8Array(chunkSize);
          let i = 0;
          for (let pos = 0; pos < input.length; pos += chunkSize) {
            const n = Math.min(chunkSize, input.length - pos);
            buffer.set(input.subarray(pos, pos + n));
            await writer.write(buffer.subarray(0, n));
            if (i++ % 2 === 0) {
              buffer.fill(0xa5);
            } else {
              // Transferring the buffer away (detaching it) is allowed once the write resolved.
              structuredClone(buffer.buffer, { transfer: [buffer.buffer as ArrayBuffer] });
              buffer = new Uint8Array(chunkSize);
            }
          }
          await writer.close();
          await piped;
          const { digest, diffID, size } = await stream.done;
          await expectLayer(input, sink.bytes(), { digest: digest.toString(), diffID: diffID.toString(), size }, engine, compression);
        });
      }
    });
  }

  describe(`a chunk transferred before its write completed fails the stream, never shortens it [${engine.name}]`, () => {
    for (const kind of ['Uint8Array', 'ArrayBuffer', 'DataView'] as const) {
      it(`LayerCompressionStream: a queued ${kind} chunk transferred right after write()`, async () => {
        const stream = new LayerCompressionStream({ engine: engine.name });
        const piped = stream.readable.pipeTo(webSink());
        const writer = stream.writable.getWriter();
        const bytes = semiCompressible(3 * MiB, 9);
        const chunk = kind === 'ArrayBuffer' ? bytes.buffer : kind === 'DataView' ? new DataView(bytes.buffer) : bytes;
        const write = writer.write(chunk);
        structuredClone(bytes.buffer, { transfer: [bytes.buffer as ArrayBuffer] });
        await assert.rejects(write, ErrChunkDetached);
        await assert.rejects(stream.done, ErrChunkDetached);
        await assert.rejects(piped, ErrChunkDetached);
      });
    }

    it('LayerCompressionStream: a chunk transferred while its write waits for room', async () => {
      const stream = new LayerCompressionStream({ engine: engine.name });
      // Nobody reads: the layer stops taking input after a few MiB, so a large write waits.
      const writer = stream.writable.getWriter();
      const first = semiCompressible(8 * MiB, 2);
      const second = semiCompressible(16 * MiB, 3);
      void writer.write(first).catch(() => {});
      const write = writer.write(second);
      write.catch(() => {});
      // Let both writes start and the second one block on the stalled layer.
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      structuredClone(second.buffer, { transfer: [second.buffer as ArrayBuffer] });
      const reader = stream.readable.getReader();
      const drained = (async () => {
        for (;;) if ((await reader.read()).done) return;
      })();
      await assert.rejects(write, ErrChunkDetached);
      await assert.rejects(stream.done, ErrChunkDetached);
      await assert.rejects(drained, ErrChunkDetached);
    });
  });
}

/** A coded error of fastlayer's, never a plain TypeError ("is not a function"). */
function notSupported(method: RegExp) {
  return (e: unknown) => e instanceof ErrNotSupported && e.code === 'ERR_NOT_SUPPORTED' && !(e instanceof TypeError) && method.test(e.message);
}

for (const engine of engines) {
  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    describe(`createGzip() has zlib's methods [${engine.name}, ${compression}]`, () => {
      it('bytesWritten counts the input taken; flush, params and reset answer with zlib\'s meaning or ERR_NOT_SUPPORTED; the stream stays usable', async (t) => {
        if (!writes(engine, compression)) return t.skip(`the ${engine.name} engine does not write zstd here`);
        const input = semiCompressible(2 * MiB + 99, 4);
        const gz = createGzip({ engine: engine.name, compression });
        const sink = nodeSink();
        gz.pipe(sink);
        assert.equal(gz.bytesWritten, 0);
        await written(gz, input.subarray(0, MiB));
        assert.equal(gz.bytesWritten, MiB);
        // Every engine has flush points but the js engine's zstd (node:zlib's frames end on their own).
        const flushes = compression !== 'zstd' || engine.name === 'native';
        for (const kind of [undefined, zlib.constants.Z_SYNC_FLUSH, zlib.constants.Z_FULL_FLUSH, zlib.constants.Z_FINISH]) {
          if (flushes) await new Promise<void>((resolve) => (kind === undefined ? gz.flush(resolve) : gz.flush(kind, resolve)));
          else assert.throws(() => (kind === undefined ? gz.flush(() => {}) : gz.flush(kind, () => {})), notSupported(/^flush\(/));
        }
        if (!flushes) assert.throws(() => gz.flush(), notSupported(/flush/));
        await new Promise<void>((resolve) => gz.flush(zlib.constants.Z_NO_FLUSH, resolve));
        assert.throws(() => gz.flush(99, () => {}), (e: unknown) => e instanceof ErrOptionRange && /Z_SYNC_FLUSH/.test(e.message));
        assert.throws(() => gz.params(gz.compressionLevel === 9 ? 8 : 9, zlib.constants.Z_DEFAULT_STRATEGY, () => {}), notSupported(/params/));
        assert.throws(() => gz.params(gz.compressionLevel, zlib.constants.Z_FILTERED, () => {}), notSupported(/params/));
        await new Promise<void>((resolve) => gz.params(gz.compressionLevel, zlib.constants.Z_DEFAULT_STRATEGY, resolve));
        assert.throws(() => gz.reset(), notSupported(/reset/));
        await written(gz, input.subarray(MiB));
        gz.end();
        // After end(): zlib's flush calls back at 'end' (here: once everything was compressed).
        const flushed = new Promise<void>((resolve) => gz.flush(resolve));
        await once(sink, 'finish');
        await flushed;
        assert.equal(gz.bytesWritten, input.length);
        await new Promise<void>((resolve) => gz.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
        const { digest, diffID, size } = await gz.done;
        if (flushes && compression !== 'none') {
          // Flush points change the bytes (not the input): checked as a valid member/frames instead.
          assert.ok(decode(compression, sink.bytes())?.equals(input));
          assert.equal(diffID.toString(), `sha256:${sha256(input)}`);
          assert.equal(digest.toString(), `sha256:${sha256(sink.bytes())}`);
          assert.equal(size, sink.bytes().length);
        } else {
          await expectLayer(input, sink.bytes(), { digest: digest.toString(), diffID: diffID.toString(), size }, engine, compression);
        }
      });

      it('close(callback) destroys the stream like zlib\'s: the callback runs once it has closed, done rejects', async (t) => {
        if (!writes(engine, compression)) return t.skip(`the ${engine.name} engine does not write zstd here`);
        const gz = createGzip({ engine: engine.name, compression });
        await written(gz, semiCompressible(100_000, 6));
        const closed = once(gz, 'close');
        const called = new Promise<unknown>((resolve) => gz.close(resolve));
        const err = await called;
        await closed;
        assert.ok(gz.destroyed);
        // finished()'s rule, as zlib.close(cb): a close before the end is a premature close.
        assert.equal((err as NodeJS.ErrnoException | undefined)?.code, 'ERR_STREAM_PREMATURE_CLOSE');
        await assert.rejects(gz.done, ErrDestroyed);
        gz.close(); // idempotent, no callback
      });
    });
  }
}

describe('level follows the compression\'s range', () => {
  const zstdOk = engines.some((e) => writes(e, 'zstd'));

  it('createGzip and LayerCompressionStream: zstd takes level 1-19, -1 and 0 mean zstd\'s default (3)', (t) => {
    if (!zstdOk) return t.skip('no engine writes zstd here');
    const cases: Array<[number, number]> = [[19, 19], [12, 12], [10, 10], [1, 1], [-1, 3], [0, 3]];
    for (const [level, expected] of cases) {
      const gz = createGzip({ compression: 'zstd', level });
      assert.equal(gz.compressionLevel, expected, `createGzip level ${level}`);
      gz.destroy();
      assert.equal(new LayerCompressionStream({ compression: 'zstd', level }).compressionLevel, expected, `web level ${level}`);
    }
    // Both given: equal after resolving the sentinel.
    assert.equal(createGzip({ compression: 'zstd', level: 19, compressionLevel: 19 }).compressionLevel, 19);
    assert.equal(createGzip({ compression: 'zstd', level: -1, compressionLevel: 3 }).compressionLevel, 3);
  });

  it('an out-of-range level names the compression\'s range', (t) => {
    const range = (pattern: RegExp) => (e: unknown) =>
      e instanceof ErrOptionRange && e.code === 'ERR_OPTION_OUT_OF_RANGE' && /"level"/.test(e.message) && pattern.test(e.message);
    const gzipRange = range(/from -1 .* to 9/);
    for (const level of [10, 19, -2, 1.5]) {
      assert.throws(() => createGzip({ level }), gzipRange, `gzip ${level}`);
      assert.throws(() => new LayerCompressionStream({ level }), gzipRange, `web gzip ${level}`);
      assert.throws(() => createGzip({ compression: 'none', level }), gzipRange, `none ${level}`);
    }
    if (!zstdOk) return t.skip('no engine writes zstd here');
    const zstdRange = range(/from -1 to 19 for zstd/);
    for (const level of [20, 22, -2, 3.5]) {
      assert.throws(() => createGzip({ compression: 'zstd', level }), zstdRange, `zstd ${level}`);
      assert.throws(() => new LayerCompressionStream({ compression: 'zstd', level }), zstdRange, `web zstd ${level}`);
    }
    assert.throws(() => createGzip({ compression: 'zstd', level: 19, compressionLevel: 18 }), range(/compressionLevel/));
  });

  it('gzip keeps zlib\'s meaning: -1 is 6, 0 is stored', () => {
    assert.equal(createGzip({ level: -1 }).compressionLevel, 6);
    assert.equal(createGzip({ level: 0 }).compressionLevel, 0);
    assert.equal(new LayerCompressionStream({ level: -1 }).compressionLevel, 6);
  });

  it('a zstd stream at the level alias writes what a Layer at that compressionLevel writes', async (t) => {
    const engine = engines.find((e) => writes(e, 'zstd'));
    if (!engine) return t.skip('no engine writes zstd here');
    const input = semiCompressible(300_000, 8);
    const gz = createGzip({ engine: engine.name, compression: 'zstd', level: 12 });
    const sink = nodeSink();
    gz.pipe(sink);
    gz.end(input);
    await once(sink, 'finish');
    const ref = await layerBytes(Layer, input, { engine: engine.name, compression: 'zstd', compressionLevel: 12 });
    assert.ok(sink.bytes().equals(ref.out));
  });
});

/** Output collected from `gz` so far (a flowing 'data' listener). */
function collector(gz: LayerTransform): () => Buffer {
  const parts: Buffer[] = [];
  gz.on('data', (chunk: Buffer) => parts.push(chunk));
  return () => Buffer.concat(parts);
}

// Writes (sizes) and flush points ('F'): flushes before any input, twice in a row, right at and
// around the 256 KiB unit boundaries, mid-unit, after chunks larger than one engine input.
const SCRIPT: ReadonlyArray<number | 'F'> = [
  'F', 1, 'F', 'F', 100, 5000, 'F', BLOCK_SIZE - 5101, 'F', BLOCK_SIZE, 'F', 1, BLOCK_SIZE - 2, 'F',
  3 * 1024 * 1024 + 7, 'F', 70_000, 64 * KiB, 'F', 1, 'F',
];

// zstd: flush points before any input, twice in a row, at and around a frame's end (a frame is
// ZSTD_FRAME_SIZE bytes of input counted from the last flush point), and one that ends a short frame.
const ZSTD_SCRIPT: ReadonlyArray<number | 'F'> = [
  'F', 'F', 1000, 'F', 'F', ZSTD_FRAME_SIZE, 'F', ZSTD_FRAME_SIZE + 1, 'F', ZSTD_FRAME_SIZE - 1, 'F', 2 * MiB, 'F', 5,
];

async function runScript(gz: LayerTransform, input: Buffer, check: (inputSoFar: Buffer) => void,
                         script: ReadonlyArray<number | 'F'> = SCRIPT): Promise<void> {
  let pos = 0;
  for (const step of script) {
    if (step === 'F') {
      await new Promise<void>((resolve) => gz.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
      // Buffered 'data' is emitted on a later tick of the flowing stream.
      await new Promise((r) => setImmediate(r));
      check(input.subarray(0, pos));
    } else {
      await written(gz, input.subarray(pos, pos + step));
      pos += step;
    }
  }
  gz.end();
  await gz.done;
}

const zstdScriptLength = ZSTD_SCRIPT.reduce<number>((n, s) => (s === 'F' ? n : n + s), 0);

const scriptLength = SCRIPT.reduce<number>((n, s) => (s === 'F' ? n : n + s), 0);

for (const engine of engines) {
  describe(`createGzip().flush() [${engine.name}]`, () => {
    for (const level of [0, 1, 6, 9]) {
      it(`gzip level ${level}: after each flush's callback the output so far decodes to all input so far`, async () => {
        const input = semiCompressible(scriptLength, level + 20);
        const gz = createGzip({ engine: engine.name, level });
        const output = collector(gz);
        let checks = 0;
        await runScript(gz, input, (soFar) => {
          const decoded = output().length <= 10 ? Buffer.alloc(0) : zlib.gunzipSync(output(), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
          assert.equal(decoded.length, soFar.length, `decoded ${decoded.length} of ${soFar.length} bytes`);
          assert.ok(decoded.equals(soFar));
          checks++;
        });
        assert.equal(checks, SCRIPT.filter((s) => s === 'F').length);
        await new Promise((r) => setImmediate(r));
        const out = output();
        assertSingleMember(out, input);
        assert.equal(gz.diffID().toString(), `sha256:${sha256(input)}`);
        assert.equal(gz.digest().toString(), `sha256:${sha256(out)}`);
        assert.equal(gz.size(), out.length);
        assert.equal(gz.bytesWritten, input.length);

        // The same writes and flush points give the same bytes; flush points change them.
        const again = createGzip({ engine: engine.name, level });
        const output2 = collector(again);
        await runScript(again, input, () => {});
        await new Promise((r) => setImmediate(r));
        assert.ok(output2().equals(out), 'flush points are deterministic');
        // Nor on the threads (units compressed in parallel in one call).
        const threaded = createGzip({ engine: engine.name, level, threads: 4 });
        const output4 = collector(threaded);
        await runScript(threaded, input, () => {});
        await new Promise((r) => setImmediate(r));
        assert.ok(output4().equals(out), 'threads 1 and 4 give the same bytes');
        const plain = await layerBytes(Layer, input, { engine: engine.name, compressionLevel: level });
        if (level > 0) assert.notEqual(plain.digest, gz.digest().toString());
      });
    }

    it('zstd: after each flush\'s callback the output so far decodes to all input so far (refused by the js engine)', async (t) => {
      if (!writes(engine, 'zstd')) return t.skip(`the ${engine.name} engine does not write zstd here`);
      if (engine.name === 'js') {
        const gz = createGzip({ engine: engine.name, compression: 'zstd' });
        assert.throws(() => gz.flush(), notSupported(/flush/));
        gz.destroy();
        return;
      }
      const input = semiCompressible(zstdScriptLength, 41);
      const run = async (threads: number, check: (soFar: Buffer, out: Buffer) => void) => {
        const gz = createGzip({ engine: engine.name, compression: 'zstd', threads });
        const output = collector(gz);
        await runScript(gz, input, (soFar) => check(soFar, output()), ZSTD_SCRIPT);
        await new Promise((r) => setImmediate(r));
        return { gz, out: output() };
      };
      let checks = 0;
      const { gz, out } = await run(1, (soFar, out) => {
        // No frame yet (a flush before any input): nothing to decode, nothing written.
        const decoded = out.length === 0 ? Buffer.alloc(0) : decodeZstd(out);
        assert.ok(decoded !== undefined, 'a zstd decoder');
        assert.equal(decoded.length, soFar.length, `decoded ${decoded.length} of ${soFar.length} bytes`);
        assert.ok(decoded.equals(soFar));
        checks++;
      });
      assert.equal(checks, ZSTD_SCRIPT.filter((s) => s === 'F').length);
      assert.ok(decodeZstd(out)?.equals(input));
      // Frames end at flush points and at full frames after them: 1000, frame, frame + 1 (two),
      // frame - 1, 2 MiB, 5 bytes.
      assert.equal(walkFrames(out).length, 7);
      assert.equal(gz.diffID().toString(), `sha256:${sha256(input)}`);
      assert.equal(gz.digest().toString(), `sha256:${sha256(out)}`);
      assert.equal(gz.size(), out.length);
      const four = await run(4, () => {});
      assert.ok(four.out.equals(out), 'threads 1 and 4 give the same bytes');
      assert.equal(four.gz.digest().toString(), gz.digest().toString());
    });

    it('compression none: after each flush\'s callback the output is all input so far', async () => {
      const input = semiCompressible(scriptLength, 31);
      const gz = createGzip({ engine: engine.name, compression: 'none' });
      const output = collector(gz);
      await runScript(gz, input, (soFar) => assert.ok(output().equals(soFar)));
      assert.equal(gz.digest().toString(), `sha256:${sha256(input)}`);
    });

    it('a flush pending when the stream is destroyed calls back; done rejects', async () => {
      const gz = createGzip({ engine: engine.name, compression: 'gzip' });
      collector(gz);
      await written(gz, semiCompressible(3 * MiB, 3));
      const flushed = new Promise<void>((resolve) => gz.flush(resolve));
      gz.destroy();
      await flushed;
      await assert.rejects(gz.done, ErrDestroyed);
    });

    it('a flush whose output nobody reads calls back when the stream is destroyed', async () => {
      const gz = createGzip({ engine: engine.name, compression: 'gzip' });
      const input = semiCompressible(2 * MiB, 13);
      gz.write(input);
      const flushed = new Promise<void>((resolve) => gz.flush(resolve));
      // Let the layer compress up to the flush point into the buffers nobody reads.
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
      gz.destroy();
      await flushed;
      await assert.rejects(gz.done, ErrDestroyed);
    });

    it('flush() while nobody reads waits for the reader, then calls back', async () => {
      const gz = createGzip({ engine: engine.name, compression: 'gzip' });
      const input = semiCompressible(6 * MiB, 12);
      let pos = 0;
      // Fill until the layer stops taking input (nobody reads), then flush.
      while (pos < input.length && gz.write(input.subarray(pos, pos + 64 * KiB))) pos += 64 * KiB;
      pos += 64 * KiB;
      let called = false;
      const flushed = new Promise<void>((resolve) => gz.flush(() => { called = true; resolve(); }));
      const output = collector(gz); // starts reading
      await flushed;
      assert.ok(called);
      await new Promise((r) => setImmediate(r));
      const soFar = input.subarray(0, Math.min(pos, input.length));
      const decoded = zlib.gunzipSync(output(), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      assert.ok(decoded.equals(soFar), `decoded ${decoded.length} of ${soFar.length}`);
      gz.end();
      await gz.done;
    });
  });
}
