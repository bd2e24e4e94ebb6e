// Output bytes never depend on how many threads compress them: every thread count gives the bytes of
// one thread, whatever the chunking, the level, the engine, or how many layers share the helpers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { assertLayer, compress, direct, engines } from '../helpers/layer.js';
import { chunked, semiCompressible } from '../helpers/data.js';

// Several units per call, a partial unit at the end, and (in chunks) units cut across calls.
const INPUT = semiCompressible(5 * BLOCK_SIZE + 54_321, 11);
const THREADS = [1, 2, 3, 4, 16];
// Sizes that leave partial units between calls, and calls that complete 2, 3 or 9 units.
const CHUNKS = [100_000, 2 * BLOCK_SIZE + 7, 9 * BLOCK_SIZE - 1];

for (const engine of engines) {
  describe(`thread count does not change the bytes [${engine.name}]`, () => {
    for (const level of [0, 1, 2, 6, 9]) {
      it(`level ${level}`, async () => {
        const one = await compress(engine, INPUT, { compressionLevel: level, threads: 1 });
        assertLayer(one.layer, one.out, INPUT);
        for (const threads of THREADS.slice(1)) {
          const { layer, out } = await compress(engine, INPUT, { compressionLevel: level, threads });
          assert.equal(layer.threads, threads);
          assert.ok(out.equals(one.out), `layer, ${threads} threads`);
        }
        for (const size of CHUNKS) {
          const threads = 4;
          const { out } = await compress(engine, chunked(INPUT, size), { compressionLevel: level, threads });
          assert.ok(out.equals(one.out), `layer, chunks of ${size}, ${threads} threads`);
          const chunks = [];
          for (let i = 0; i < INPUT.length; i += size) chunks.push(INPUT.subarray(i, i + size));
          for (const t of [2, 3]) {
            assert.ok((await direct(engine, chunks, level, t)).equals(one.out), `engine, chunks of ${size}, ${t} threads`);
          }
        }
      });
    }

    it('many layers at once share the helpers and each keeps its own bytes', async () => {
      const inputs = Array.from({ length: 8 }, (_, i) => semiCompressible(3 * BLOCK_SIZE + 1000 * i, 100 + i));
      const expected = await Promise.all(
        inputs.map(async (input) => (await compress(engine, input, { compressionLevel: 1, threads: 1 })).out),
      );
      const outs = await Promise.all(
        inputs.map(async (input, i) => (await compress(engine, chunked(input, 300_000), { compressionLevel: 1 + (i % 2) * 5, threads: 4 })).out),
      );
      for (let i = 0; i < inputs.length; i++) {
        if (i % 2 === 0) assert.ok(outs[i]!.equals(expected[i]!), `layer ${i}`);
        else assertLayer((await compress(engine, inputs[i]!, { compressionLevel: 6, threads: 1 })).layer, outs[i]!, inputs[i]!);
      }
    });
  });
}

describe('threads default', () => {
  it('is the machine parallelism up to 4, or FASTLAYER_THREADS', () => {
    const layerModule = JSON.stringify(new URL('../../src/layer/layer.js', import.meta.url).href);
    const script = `import(${layerModule}).then(({ Layer }) => console.log(new Layer(Buffer.alloc(1)).threads))`;
    // In a child with FASTLAYER_THREADS set to `value`, or unset whatever this process has.
    const run = (value: string | undefined) => {
      const env = { ...process.env };
      if (value === undefined) delete env.FASTLAYER_THREADS;
      else env.FASTLAYER_THREADS = value;
      return spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env });
    };
    assert.equal(run(undefined).stdout.trim(), String(Math.min(availableParallelism(), 4)));
    assert.equal(run('').stdout.trim(), String(Math.min(availableParallelism(), 4)));
    assert.equal(run('3').stdout.trim(), '3');
    assert.equal(run('64').stdout.trim(), '64');
    for (const bad of ['0', '65', 'two', '1.5']) {
      const r = run(bad);
      assert.notEqual(r.status, 0, `FASTLAYER_THREADS=${bad} must be refused`);
      assert.match(r.stderr, /ERR_OPTION_OUT_OF_RANGE/);
      assert.match(r.stderr, /FASTLAYER_THREADS/);
    }
  });
});
