// zstd layers (docs/ZSTD.md): digest, diffID and size check out against independent decoders, the
// bytes never depend on threads or chunking, and the frame structure is the documented one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Layer } from '../../src/layer/layer.js';
import { ZSTD_FRAME_SIZE } from '../../src/engine/format.js';
import { OCI_LAYER_ZSTD } from '../../src/core/media-types.js';
import type { EngineFactory } from '../../src/engine/engine.js';
import { jsZstdUnavailableReason } from '../../src/engine/js-zstd.js';
import { collect, engines, sha256 } from '../helpers/layer.js';
import { chunked, randomBytes, semiCompressible } from '../helpers/data.js';
import { NO_DECODER, canDecodeZstd, decodeZstd, hasZstdCli, walkFrames, zstdCliDecode, zstdCliTest } from '../helpers/zstd.js';

/** Engines that write zstd here, and why the others cannot (reported as skips). */
function zstdEngines(): { usable: EngineFactory[]; skipped: string[] } {
  const usable: EngineFactory[] = [];
  const skipped: string[] = [];
  for (const e of engines) {
    if (e.name === 'js') {
      const reason = jsZstdUnavailableReason();
      if (reason === undefined) usable.push(e);
      else skipped.push(`js engine: ${reason}`);
    } else if (e.supports?.({ level: 3, compression: 'zstd' }) !== false) {
      usable.push(e);
    } else skipped.push('native engine: addon without zstd');
  }
  if (!engines.some((e) => e.name === 'native')) skipped.push('native engine: the addon does not load');
  return { usable, skipped };
}

const { usable, skipped } = zstdEngines();

/** Feeds an engine directly (each chunk one call) and checks what it reports against its bytes. */
async function direct(engine: EngineFactory, chunks: Iterable<Uint8Array | Uint8Array[]>, level: number, threads: number): Promise<Buffer> {
  const e = engine.create({ level, compression: 'zstd', threads });
  const parts: Buffer[] = [];
  for (const c of chunks) parts.push(Buffer.from(await e.update(c)));
  const r = await e.finish();
  parts.push(Buffer.from(r.tail));
  const out = Buffer.concat(parts);
  assert.equal(r.size, out.length, 'size');
  assert.equal(r.digest, sha256(out), 'digest');
  return out;
}

function* cuts(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** The documented frame structure: ceil(n / frame size) frames (one for empty input), checksummed. */
function assertFrames(out: Buffer, inputLength: number): void {
  const frames = walkFrames(out);
  assert.equal(frames.length, Math.max(1, Math.ceil(inputLength / ZSTD_FRAME_SIZE)), 'frame count');
  for (const f of frames) {
    assert.ok(f.checksum, 'every frame carries its content checksum');
    assert.ok(!f.contentSizePresent, 'no frame records its content size');
    assert.ok(f.windowSize <= ZSTD_FRAME_SIZE, `window ${f.windowSize} above the frame size`);
  }
  assert.equal(frames.at(-1)!.end, out.length, 'nothing after the last frame');
}

if (skipped.length > 0) it(`some engines are not tested here: ${skipped.join('; ')}`, (t) => t.skip(skipped.join('; ')));

// Two full frames and a partial one; the content repeats at long distances like a tar of similar files.
const INPUT = semiCompressible(2 * ZSTD_FRAME_SIZE + 54_321, 23);

for (const engine of usable) {
  describe(`zstd layers [${engine.name}]`, () => {
    it('digest, diffID and size check out, and the bytes decode to the input', async (t) => {
      const layer = new Layer(INPUT, { compression: 'zstd', engine: engine.name });
      const out = await collect(layer.compressed());
      await layer.done;
      assert.equal(layer.mediaType(), OCI_LAYER_ZSTD);
      assert.equal(layer.compressionLevel, 3);
      assert.equal(layer.diffID().toString(), `sha256:${sha256(INPUT)}`);
      assert.equal(layer.digest().toString(), `sha256:${sha256(out)}`);
      assert.equal(layer.size(), out.length);
      assert.ok(out.length < INPUT.length * 0.8, 'semi-compressible input must shrink');
      assertFrames(out, INPUT.length);
      const decoded = decodeZstd(out);
      if (decoded === undefined) return t.skip(NO_DECODER);
      assert.ok(decoded.equals(INPUT), 'decoded bytes differ from the input');
    });

    it('the zstd command accepts the layer: zstd -t, and zstd -dc | sha256sum is the diffID', async (t) => {
      if (!hasZstdCli()) return t.skip('the zstd command is not installed (apt-get install zstd)');
      const layer = new Layer(INPUT, { compression: 'zstd', compressionLevel: 1, engine: engine.name });
      const out = await collect(layer.compressed());
      await layer.done;
      assert.ok(zstdCliTest(out), 'zstd -t rejects the layer');
      assert.equal(`sha256:${sha256(zstdCliDecode(out))}`, layer.diffID().toString());
    });

    it('hazard: thread count and chunking never change the bytes', async () => {
      const reference = await direct(engine, [INPUT], 3, 1);
      for (const threads of [2, 4]) {
        assert.ok((await direct(engine, [INPUT], 3, threads)).equals(reference), `${threads} threads`);
      }
      const sizes = [65_537, 1_048_576 + 3, ZSTD_FRAME_SIZE - 1, ZSTD_FRAME_SIZE, ZSTD_FRAME_SIZE + 1, 3 * ZSTD_FRAME_SIZE];
      for (const size of sizes) {
        for (const threads of [1, 3]) {
          assert.ok((await direct(engine, cuts(INPUT, size), 3, threads)).equals(reference), `chunks of ${size}, ${threads} threads`);
        }
      }
      // A list of views in one call is consumed as their concatenation.
      const lists = [[...cuts(INPUT.subarray(0, 5_000_001), 999_999)], [INPUT.subarray(5_000_001)]];
      assert.ok((await direct(engine, lists, 3, 2)).equals(reference), 'lists of chunks');
      // Through the Layer with its own coalescing.
      const layer = new Layer(chunked(INPUT, 77_777), { compression: 'zstd', engine: engine.name, threads: 4 });
      assert.ok((await collect(layer.compressed())).equals(reference), 'layer, 4 threads, chunks of 77 777');
    });

    it('hazard: one-byte chunks and chunks that end on a frame boundary give the same bytes', async () => {
      const small = semiCompressible(3_000, 5);
      const one = await direct(engine, [small], 5, 1);
      assert.ok((await direct(engine, cuts(small, 1), 5, 2)).equals(one), 'one-byte chunks');
      const exact = randomBytes(ZSTD_FRAME_SIZE, 9);
      const whole = await direct(engine, [exact], 1, 1);
      assertFrames(whole, exact.length);
      assert.ok((await direct(engine, [exact, new Uint8Array(0)], 1, 2)).equals(whole), 'an empty chunk after a full frame');
    });

    it('Layer.fromFile gives the same bytes as the same input in memory (the engine reads the file itself)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'fastlayer-zstd-'));
      try {
        const file = join(dir, 'layer.tar');
        const input = INPUT.subarray(0, ZSTD_FRAME_SIZE + 4_321);
        writeFileSync(file, input);
        const options = { compression: 'zstd' as const, compressionLevel: 2, engine: engine.name, threads: 2 };
        const fromFile = Layer.fromFile(file, options);
        const out = await collect(fromFile.compressed());
        await fromFile.done;
        const inMemory = new Layer(input, options);
        assert.ok((await collect(inMemory.compressed())).equals(out));
        assert.equal(fromFile.diffID().toString(), `sha256:${sha256(input)}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('empty input gives one empty frame', async (t) => {
      const out = await direct(engine, [], 3, 1);
      assertFrames(out, 0);
      assert.ok((await direct(engine, [new Uint8Array(0)], 3, 4)).equals(out));
      const decoded = decodeZstd(out);
      if (decoded === undefined) return t.skip(NO_DECODER);
      assert.equal(decoded.length, 0);
    });

    it('every level 1-19 writes frames that decode to the input', async (t) => {
      const input = semiCompressible(300_000, 3);
      const sizes: number[] = [];
      for (let level = 1; level <= 19; level++) {
        const out = await direct(engine, cuts(input, 100_000), level, 2);
        assertFrames(out, input.length);
        const decoded = decodeZstd(out);
        if (decoded !== undefined) assert.ok(decoded.equals(input), `level ${level}`);
        sizes.push(out.length);
      }
      // Level 19 must beat level 1 on compressible input: a level that was ignored would not.
      assert.ok(sizes[18]! < sizes[0]!, `level 19 (${sizes[18]}) not smaller than level 1 (${sizes[0]})`);
      if (!canDecodeZstd()) t.skip(`frames walked but not decoded: ${NO_DECODER}`);
    });
  });
}

describe('zstd across engines', () => {
  it('native and js bytes both decode to the input (they differ: each links its own libzstd)', async (t) => {
    if (usable.length < 2) return t.skip(`needs both engines: ${skipped.join('; ')}`);
    const input = semiCompressible(ZSTD_FRAME_SIZE + 1000, 4);
    const outs = await Promise.all(usable.map((e) => direct(e, [input], 3, 2)));
    for (const out of outs) {
      assertFrames(out, input.length);
      const decoded = decodeZstd(out);
      if (decoded !== undefined) assert.ok(decoded.equals(input));
    }
  });
});
