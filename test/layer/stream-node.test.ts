// createGzip(): the drop-in replacement of zlib.createGzip() in Node pipelines. Same bytes as the
// Layer for every chunking, the layer's values after 'finish', options, real backpressure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duplex, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { ErrInvalidOption, ErrNotComputed, ErrOptionRange } from '../../src/core/errors.js';
import { createGzip, createLayerStream, LayerTransform } from '../../src/layer/create-gzip.js';
import { Layer } from '../../src/layer/layer.js';
import { LayerCompressionStream } from '../../src/layer/web-stream.js';
import { DOCKER_LAYER_GZIP, OCI_LAYER_UNCOMPRESSED } from '../../src/core/media-types.js';
import { randomBytes, semiCompressible, cut } from '../helpers/data.js';
import { assertSingleMember, engines, sha256 } from '../helpers/layer.js';
import { layerBytes, nodeSink, randomCuts, settledValue } from '../helpers/streams.js';
import { tempDir } from '../helpers/tree.js';

const INPUT = semiCompressible(2 * 1024 * 1024 + 12_345);
const MiB = 1024 * 1024;

/** Runs `chunks` through createGzip(options) in pipeline(); returns the output and the transform. */
async function throughNode(chunks: Uint8Array[], options: Parameters<typeof createGzip>[0]) {
  const gz = createGzip(options);
  const sink = nodeSink();
  await pipeline(Readable.from(chunks, { objectMode: false }), gz, sink);
  return { gz, out: sink.bytes() };
}

const hasGzip = spawnSync('gzip', ['--version']).status === 0;

for (const engine of engines) {
  describe(`createGzip() drop-in [${engine.name}]`, () => {
    it('file -> createGzip({ level: 1 }) -> file: one valid gzip member; digest, diffID and size are the files\' hashes', async (t) => {
      const dir = tempDir();
      try {
        const src = join(dir.path, 'layer.tar');
        const dest = join(dir.path, 'layer.tar.gz');
        writeFileSync(src, semiCompressible(3 * MiB + 777, 11));
        const gz = createGzip({ level: 1, engine: engine.name });
        await pipeline(createReadStream(src), gz, createWriteStream(dest));
        const input = readFileSync(src);
        const output = readFileSync(dest);
        assert.ok(zlib.gunzipSync(output).equals(input), 'gunzip gives the input back');
        assertSingleMember(output, input);
        assert.equal(gz.digest().toString(), `sha256:${sha256(output)}`);
        assert.equal(gz.diffID().toString(), `sha256:${sha256(input)}`);
        assert.equal(gz.size(), statSync(dest).size);
        assert.equal(gz.mediaType(), DOCKER_LAYER_GZIP);
        const values = await gz.done;
        assert.ok(values.digest.equals(gz.digest()));
        assert.equal(values.size, output.length);
        if (!hasGzip) t.diagnostic('gzip is not installed: gzip -t not run');
        else assert.equal(spawnSync('gzip', ['-t', dest]).status, 0, 'gzip -t accepts the output');
      } finally {
        dir.remove();
      }
    });

    for (const level of [0, 1, 6]) {
      it(`level ${level}: the same bytes and values as new Layer() for every chunking`, async () => {
        const ref = await layerBytes(Layer, INPUT, { engine: engine.name, compressionLevel: level });
        const chunkings: [string, Uint8Array[]][] = [
          ['one chunk', [INPUT]],
          ['7 bytes', cut(INPUT.subarray(0, 70_000), 7)],
          ['4096 bytes', cut(INPUT, 4096)],
          ['64 KiB (fs.createReadStream)', cut(INPUT, 65_536)],
          ['1 MiB + 3', cut(INPUT, MiB + 3)],
          ['random sizes up to 300 KiB', randomCuts(INPUT, 300_000)],
        ];
        for (const [name, chunks] of chunkings) {
          const input = Buffer.concat(chunks);
          const expected = input.length === INPUT.length ? ref : await layerBytes(Layer, input, { engine: engine.name, compressionLevel: level });
          const { gz, out } = await throughNode(chunks, { engine: engine.name, level });
          assert.ok(out.equals(expected.out), `${name}: bytes differ from the Layer's`);
          assert.equal(gz.digest().toString(), expected.digest, name);
          assert.equal(gz.diffID().toString(), expected.diffID, name);
          assert.equal(gz.size(), expected.size, name);
        }
      });
    }

    it('compression none: the bytes pass through, digest equals diffID, OCI uncompressed media type', async () => {
      const input = INPUT.subarray(0, 500_000);
      const { gz, out } = await throughNode(cut(input, 10_000), { engine: engine.name, compression: 'none' });
      assert.ok(out.equals(input));
      assert.equal(gz.digest().toString(), `sha256:${sha256(input)}`);
      assert.ok(gz.digest().equals(gz.diffID()));
      assert.equal(gz.mediaType(), OCI_LAYER_UNCOMPRESSED);
      assert.equal(gz.compression, 'none');
    });

    it('empty input: a valid empty member, the Layer\'s bytes', async () => {
      const { gz, out } = await throughNode([], { engine: engine.name });
      const ref = await layerBytes(Layer, new Uint8Array(0), { engine: engine.name });
      assert.ok(out.equals(ref.out));
      assert.equal(zlib.gunzipSync(out).length, 0);
      assert.equal(gz.size(), out.length);
    });

    it('strings are written as bytes in their encoding, as zlib takes them', async () => {
      const gz = createGzip({ engine: engine.name });
      const sink = nodeSink();
      const done = pipeline(gz, sink);
      gz.write('layer ');
      gz.write('6869', 'hex');
      gz.end();
      await done;
      assert.equal(zlib.gunzipSync(sink.bytes()).toString(), 'layer hi');
      assert.equal(gz.diffID().toString(), `sha256:${sha256(Buffer.from('layer hi'))}`);
    });

    it('an already aborted signal: the pipeline fails with the reason, done rejects with it, no engine work', async () => {
      const reason = new Error('cancelled before start');
      const gz = createGzip({ engine: engine.name, signal: AbortSignal.abort(reason) });
      await assert.rejects(pipeline(Readable.from([INPUT]), gz, nodeSink()), (e: unknown) => e === reason);
      assert.equal(await gz.done.catch((e: unknown) => e), reason);
      assert.throws(() => gz.digest(), ErrNotComputed);
    });

    it('values: ErrNotComputed until all input is compressed, then set by \'finish\' even while nobody reads', async () => {
      const gz = createGzip({ engine: engine.name });
      for (const get of [() => gz.digest(), () => gz.diffID(), () => gz.size()]) {
        assert.throws(get, (e: unknown) => e instanceof ErrNotComputed && e.code === 'ERR_LAYER_NOT_COMPUTED');
      }
      gz.write(INPUT.subarray(0, MiB));
      await new Promise((r) => setImmediate(r));
      assert.throws(() => gz.size(), ErrNotComputed, 'a value after part of the input');
      gz.end(INPUT.subarray(MiB));
      await once(gz, 'finish');
      const ref = await layerBytes(Layer, INPUT, { engine: engine.name });
      assert.equal(gz.digest().toString(), ref.digest, 'digest at finish, nothing read yet');
      const out = Buffer.concat(await gz.toArray());
      assert.ok(out.equals(ref.out));
    });
  });
}

describe('done of the stream forms', () => {
  it('an unobserved done of a failed stream is never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const gz = createGzip();
      gz.on('error', () => {});
      gz.write(INPUT.subarray(0, 1000));
      gz.destroy(new Error('nobody looks at done'));
      const web = new LayerCompressionStream();
      await web.writable.abort(new Error('nobody looks at done either'));
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('createGzip() options', () => {
  it('is a Transform (a Duplex), like zlib.createGzip(); createLayerStream is the same function', () => {
    const gz = createGzip();
    assert.ok(gz instanceof Transform && gz instanceof Duplex && gz instanceof LayerTransform);
    assert.equal(createLayerStream, createGzip);
    gz.destroy();
  });

  it('level is an alias of compressionLevel; -1 is zlib\'s default (6)', () => {
    const cases: [object, number][] = [
      [{}, 1],
      [{ level: 3 }, 3],
      [{ compressionLevel: 4 }, 4],
      [{ level: 5, compressionLevel: 5 }, 5],
      [{ level: -1 }, 6],
      [{ level: zlib.constants.Z_DEFAULT_COMPRESSION, compressionLevel: 6 }, 6],
      [{ level: undefined, compressionLevel: 2 }, 2],
    ];
    for (const [options, level] of cases) {
      const gz = createGzip(options);
      assert.equal(gz.compressionLevel, level, JSON.stringify(options));
      gz.destroy();
    }
  });

  it('level and compressionLevel that disagree, or a bad level: coded RangeError/TypeError', () => {
    const range = (e: unknown) => e instanceof ErrOptionRange && e instanceof RangeError && e.code === 'ERR_OPTION_OUT_OF_RANGE';
    const type = (e: unknown) => e instanceof ErrInvalidOption && e instanceof TypeError && e.code === 'ERR_INVALID_OPTION';
    assert.throws(() => createGzip({ level: 1, compressionLevel: 9 }), (e: unknown) => range(e) && /level/.test((e as Error).message));
    assert.throws(() => createGzip({ level: 10 }), range);
    assert.throws(() => createGzip({ level: -2 }), range);
    assert.throws(() => createGzip({ level: 1.5 }), range);
    assert.throws(() => createGzip({ level: '1' as unknown as number }), type);
    assert.throws(() => createGzip({ compressionLevel: 12 }), range, 'the Layer validates its own options');
    assert.throws(() => createGzip({ compression: 'brotli' as 'gzip' }), range);
    assert.throws(() => createGzip('fast' as unknown as object), type);
  });

  it('zlib options with no meaning for a layer are refused with ERR_INVALID_OPTION, not ignored', () => {
    const refused: Record<string, unknown> = {
      windowBits: 15,
      memLevel: 8,
      strategy: zlib.constants.Z_DEFAULT_STRATEGY,
      dictionary: Buffer.from('abc'),
      flush: zlib.constants.Z_SYNC_FLUSH,
      finishFlush: zlib.constants.Z_FINISH,
      chunkSize: 64 * 1024,
      info: true,
      maxOutputLength: 1e6,
      objectMode: true,
      readableObjectMode: true,
      writableObjectMode: true,
      encoding: 'utf8',
      decodeStrings: false,
    };
    for (const [key, value] of Object.entries(refused)) {
      assert.throws(
        () => createGzip({ level: 1, [key]: value }),
        (e: unknown) => e instanceof ErrInvalidOption && e.code === 'ERR_INVALID_OPTION' && e.message.includes(`"${key}"`),
        key,
      );
    }
    // Left out through an undefined value (`{ chunkSize: opts.chunkSize }`) is the same as absent.
    createGzip({ level: 1, chunkSize: undefined } as object).destroy();
    assert.throws(() => createGzip({ allowHalfOpen: false } as object), ErrInvalidOption, 'unknown options too');
  });

  it('highWaterMark options size the stream buffers, as zlib takes them', () => {
    const gz = createGzip({ highWaterMark: 1234 });
    assert.equal(gz.readableHighWaterMark, 1234);
    assert.equal(gz.writableHighWaterMark, 1234);
    gz.destroy();
    const split = createGzip({ readableHighWaterMark: 10, writableHighWaterMark: 20 });
    assert.deepEqual([split.readableHighWaterMark, split.writableHighWaterMark], [10, 20]);
    split.destroy();
    assert.throws(() => createGzip({ highWaterMark: -1 }), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE');
  });
});

for (const engine of engines) {
  describe(`createGzip() backpressure [${engine.name}]`, () => {
    it('a stalled reader stops the producer: a few MiB buffered of 48 MiB, then everything arrives', async (t) => {
      // Incompressible data, the worst case: the output is as large as the input.
      const block = randomBytes(MiB, 5);
      const total = 48 * MiB;
      let produced = 0;
      const source = new Readable({
        read() {
          if (produced >= total) return void this.push(null);
          const chunk = block.subarray(produced % MiB, (produced % MiB) + 65_536);
          produced += chunk.length;
          this.push(chunk);
        },
      });
      const gz = createGzip({ engine: engine.name, level: 1 });
      source.pipe(gz);
      const stalled = await settledValue(() => produced);
      const buffered = stalled;
      t.diagnostic(`produced while nobody read: ${(buffered / MiB).toFixed(2)} MiB; readable buffer ${gz.readableLength} bytes`);
      assert.ok(buffered < 12 * MiB, `the producer ran ahead by ${(buffered / MiB).toFixed(1)} MiB with nobody reading`);
      assert.ok(gz.readableLength <= gz.readableHighWaterMark + 2 * MiB, `readable buffer ${gz.readableLength}`);
      const hash = createHash('sha256');
      let outBytes = 0;
      for await (const chunk of gz) {
        hash.update(chunk as Buffer);
        outBytes += (chunk as Buffer).length;
      }
      assert.equal(produced, total);
      assert.equal(gz.size(), outBytes);
      assert.equal(gz.digest().hex, hash.digest('hex'));
    });

    it('a slow consumer: write() returns false, \'drain\' stops while nobody reads, and comes back as the consumer reads', async (t) => {
      const gz = createGzip({ engine: engine.name, level: 1 });
      const block = randomBytes(256 * 1024, 6);
      const cap = 64 * MiB;
      let accepted = 0;
      const fill = () => {
        while (accepted < cap) {
          accepted += block.length;
          if (!gz.write(block)) return;
        }
      };
      gz.on('drain', fill);
      fill();
      const stalled = await settledValue(() => accepted);
      t.diagnostic(`accepted while nobody read: ${(stalled / MiB).toFixed(2)} MiB`);
      assert.ok(stalled < 12 * MiB, `${(stalled / MiB).toFixed(1)} MiB accepted with nobody reading`);
      gz.off('drain', fill);
      gz.resume();
      await once(gz, 'drain');
      gz.end();
      await once(gz, 'end');
      assert.equal(gz.diffID().toString(), `sha256:${sha256(Buffer.concat(Array(stalled / block.length).fill(block)))}`);
    });
  });
}
