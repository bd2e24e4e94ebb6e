// Output bytes depend only on (input, level, engine): never on how the input is chunked.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { assertLayer, compress, direct, engines, sha256 } from '../helpers/layer.js';
import { chunked, cut, semiCompressible } from '../helpers/data.js';

const INPUT = semiCompressible(2 * 1024 * 1024 + 12_345);
// Tiny chunks cost a promise round trip each (and much more under the test runner's async
// tracking), so they run on smaller inputs: 7-byte chunks across a block boundary, 1-byte chunks
// on a prefix.
const SMALL_INPUT = INPUT.subarray(0, BLOCK_SIZE + 4321);
const TINY_INPUT = INPUT.subarray(0, 40_000);
const SIZES = [4096, 65_536, (1 << 20) + 3];

for (const engine of engines) {
  describe(`chunking does not change the bytes [${engine.name}]`, () => {
    for (let level = 0; level <= 9; level++) {
      it(`level ${level}`, async () => {
        const whole = await compress(engine, INPUT, { compressionLevel: level });
        assertLayer(whole.layer, whole.out, INPUT);
        const expected = whole.layer.digest().hex;
        for (const size of SIZES) {
          const { layer } = await compress(engine, chunked(INPUT, size), { compressionLevel: level });
          assert.equal(layer.digest().hex, expected, `layer, chunks of ${size}`);
        }
        const wholeSmall = (await compress(engine, SMALL_INPUT, { compressionLevel: level })).layer.digest().hex;
        const small = await compress(engine, chunked(SMALL_INPUT, 7), { compressionLevel: level });
        assert.equal(small.layer.digest().hex, wholeSmall, 'layer, chunks of 7');
        const wholeTiny = (await compress(engine, TINY_INPUT, { compressionLevel: level })).layer.digest().hex;
        const tiny = await compress(engine, chunked(TINY_INPUT, 1), { compressionLevel: level });
        assert.equal(tiny.layer.digest().hex, wholeTiny, 'layer, chunks of 1');

        // The Layer coalesces small chunks, so odd sizes also go to the engine directly.
        assert.equal(sha256(await direct(engine, [INPUT], level)), expected, 'engine, whole');
        for (const size of [4096, 65_536 + 1, (1 << 20) + 3]) {
          assert.equal(sha256(await direct(engine, cut(INPUT, size), level)), expected, `engine, chunks of ${size}`);
        }
        const mixed = [SMALL_INPUT.subarray(0, 1), SMALL_INPUT.subarray(1, 8), SMALL_INPUT.subarray(8, BLOCK_SIZE - 1),
          SMALL_INPUT.subarray(BLOCK_SIZE - 1, BLOCK_SIZE + 1), new Uint8Array(0), SMALL_INPUT.subarray(BLOCK_SIZE + 1)];
        assert.equal(sha256(await direct(engine, mixed, level)), wholeSmall, 'engine, chunks around a block boundary');
      });
    }
  });
}
