// Round trips and output structure, per engine.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { assertLayer, collect, compress, engines } from '../helpers/layer.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';
import { SYSTEM_DIRS, tarProcess } from '../helpers/tree.js';

const SIZES = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE, 4 * BLOCK_SIZE + 5];

for (const engine of engines) {
  describe(`round trip [${engine.name}]`, () => {
    for (const size of SIZES) {
      it(`${size} bytes at levels 0, 1, 2, 6, 9: one gzip member that inflates to the input`, async () => {
        const input = semiCompressible(size, size + 1);
        for (const compressionLevel of [0, 1, 2, 6, 9]) {
          const { layer, out } = await compress(engine, input, { compressionLevel });
          assertLayer(layer, out, input);
        }
      });
    }

    it('empty input is a valid layer with computed values', async () => {
      const { layer, out } = await compress(engine, Buffer.alloc(0));
      assertLayer(layer, out, Buffer.alloc(0));
      assert.equal(layer.diffID().hex, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      assert.ok(Number.isSafeInteger(layer.size()) && layer.size() > 0);
    });

    it('64 MiB of random bytes', async () => {
      const input = randomBytes(64 << 20, 64);
      const { layer, out } = await compress(engine, input);
      assertLayer(layer, out, input);
    });

    it('a tar of real system files, streamed from the system tar', async (t) => {
      const dir = SYSTEM_DIRS.find((d) => existsSync(d));
      if (!dir) return t.skip(`none of ${SYSTEM_DIRS.join(', ')} exists`);
      const tar = await collect(tarProcess(dir).stdout);
      assert.ok(tar.length > 1 << 20, `${dir} gave only ${tar.length} bytes`);
      for (const compressionLevel of [1, 6]) {
        const { layer, out } = await compress(engine, tarProcess(dir).stdout, { compressionLevel });
        assertLayer(layer, out, tar);
        assert.ok(out.length < tar.length / 2, `a tar of text compresses (${out.length} of ${tar.length})`);
      }
    });
  });
}
