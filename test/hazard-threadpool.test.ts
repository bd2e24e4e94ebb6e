// Hazard: threadpool starvation. 64 layers at once with the default UV_THREADPOOL_SIZE (4) must all
// finish with correct values while fs requests in the same process keep completing (engine calls
// and fs requests share the libuv threadpool). Runs in a child so the pool size is the default.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { availableEngines } from '../src/engines.js';
import { Layer } from '../src/layer.js';
import { assertChildOk, childScenario, MiB, report, runChild, text } from './hazard-util.js';

const LAYERS = 64;

async function scenario(engine: 'native' | 'js'): Promise<void> {
  const input = text(4 * MiB, 11);
  const want = createHash('sha256').update(input).digest('hex');
  const level = engine === 'native' ? 6 : 1;
  const started = Date.now();
  let running = true;
  const fsLatencies: number[] = [];
  const fsStarts: number[] = [];
  const fsLoop = (async () => {
    const file = fileURLToPath(import.meta.url);
    while (running) {
      const t0 = Date.now();
      await stat(file); // one threadpool request per operation
      fsLatencies.push(Date.now() - t0);
      fsStarts.push(t0 - started);
    }
  })();
  const results = await Promise.all(
    Array.from({ length: LAYERS }, async () => {
      const layer = new Layer(input, { engine, compressionLevel: level });
      for await (const _ of layer.compressed()) void _;
      return (await layer.done).diffID.hex;
    }),
  );
  const layersMs = Date.now() - started;
  running = false;
  await fsLoop;
  report({
    correct: results.filter((r) => r === want).length,
    layersMs,
    fsOps: fsLatencies.length,
    fsMaxMs: Math.max(...fsLatencies),
    // When each fs read completed, relative to the start of the layers.
    fsDone: fsLatencies.map((ms, i) => fsStarts[i]! + ms),
    poolSize: process.env.UV_THREADPOOL_SIZE ?? 'default',
  });
}

const which = childScenario();
if (which) {
  await scenario(which as 'native' | 'js');
} else {
  describe('hazard: threadpool starvation', () => {
    for (const { name } of availableEngines()) {
      test(`${name}: ${LAYERS} layers at once finish, fs keeps making progress`, async (t) => {
        const r = await runChild(import.meta.url, name, { env: { UV_THREADPOOL_SIZE: undefined }, timeoutMs: 150_000 });
        assertChildOk(r, 'threadpool');
        const { correct, layersMs, fsOps, fsMaxMs, fsDone, poolSize } = r.report as {
          correct: number; layersMs: number; fsOps: number; fsMaxMs: number; fsDone: number[]; poolSize: string;
        };
        const during = fsDone.filter((ms) => ms < layersMs * 0.75).length;
        t.diagnostic(
          `${correct}/${LAYERS} correct in ${layersMs} ms; ${fsOps} fs.stat (${during} in the first 75% of that), ` +
            `slowest ${fsMaxMs} ms; pool ${poolSize}`,
        );
        assert.equal(poolSize, 'default');
        assert.equal(correct, LAYERS);
        // Starvation would mean no fs request completes until the layers are (nearly) done. Latency
        // is only reported: every threadpool request queues (FIFO) behind up to one call per layer,
        // so with 64 busy layers each request waits for seconds here; see the README.
        assert.ok(during >= 2, `only ${during} fs requests completed during the first 75% of the layers' ${layersMs} ms`);
      });
    }
  });
}
