// Hazard: threadpool starvation. 64 layers at once with the default UV_THREADPOOL_SIZE (4) must all
// finish with correct values while fs requests in the same process keep completing promptly (engine
// calls and fs requests share the libuv threadpool; the native engine leaves one thread free, see
// src/engine/limiter.ts). Runs in a child so the pool size is the default.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { availableEngines } from '../../src/engine/engines.js';
import { nativeCallStats } from '../../src/engine/native-engine.js';
import { Layer } from '../../src/layer/layer.js';
import { assertChildOk, childScenario, MiB, report, runChild, text } from '../helpers/hazard.js';

const LAYERS = 64;

async function scenario(engine: 'native' | 'js'): Promise<void> {
  const input = text(4 * MiB, 11);
  const want = createHash('sha256').update(input).digest('hex');
  const level = engine === 'native' ? 6 : 1;
  const factory = availableEngines().find((e) => e.name === engine)!;
  // Baseline: one engine call of the size the layers make (1 MiB), on an idle pool.
  const one = factory.create({ level, compression: 'gzip' });
  const t = Date.now();
  await one.update(input.subarray(0, MiB));
  const callMs = Date.now() - t;
  one.destroy();

  const file = fileURLToPath(import.meta.url);
  const started = Date.now();
  let running = true;
  const fsLatencies: number[] = [];
  const fsStarts: number[] = [];
  const readLatencies: number[] = [];
  const fsLoop = (async () => {
    while (running) {
      const t0 = Date.now();
      await stat(file); // one threadpool request per operation
      fsLatencies.push(Date.now() - t0);
      fsStarts.push(t0 - started);
      // A breather, so this loop does not keep the free thread busy on its own.
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  // readFile is a chain of requests (open, fstat, read, close), each queued behind the pool anew.
  const readLoop = (async () => {
    while (running) {
      const t0 = Date.now();
      await readFile(file);
      readLatencies.push(Date.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
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
  await readLoop;
  report({
    callMs,
    readOps: readLatencies.length,
    readMaxMs: readLatencies.reduce((a, b) => Math.max(a, b), 0),
    limit: engine === 'native' ? nativeCallStats().capacity : 0,
    correct: results.filter((r) => r === want).length,
    layersMs,
    fsOps: fsLatencies.length,
    // With a free thread they are fast: too many for Math.max(...list).
    fsMaxMs: fsLatencies.reduce((a, b) => Math.max(a, b), 0),
    // fs requests that completed during the first 75% of the layers' time.
    fsDuring: fsLatencies.filter((ms, i) => fsStarts[i]! + ms < layersMs * 0.75).length,
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
        const { correct, layersMs, fsOps, fsMaxMs, fsDuring: during, poolSize, callMs, readOps, readMaxMs, limit } = r.report as {
          correct: number; layersMs: number; fsOps: number; fsMaxMs: number; fsDuring: number; poolSize: string;
          callMs: number; readOps: number; readMaxMs: number; limit: number;
        };
        t.diagnostic(
          `${correct}/${LAYERS} correct in ${layersMs} ms; ${fsOps} fs.stat (${during} in the first 75% of that), ` +
            `slowest ${fsMaxMs} ms; ${readOps} readFile, slowest ${readMaxMs} ms; one 1 MiB call alone ${callMs} ms; ` +
            `pool ${poolSize}, native calls in flight at most ${limit}`,
        );
        assert.equal(poolSize, 'default');
        assert.equal(correct, LAYERS);
        // Starvation would mean no fs request completes until the layers are (nearly) done.
        assert.ok(during >= 2, `only ${during} fs requests completed during the first 75% of the layers' ${layersMs} ms`);
        if (name !== 'native') return; // the js engine computes on the main thread, not in the pool
        assert.equal(limit, 3, 'the default pool of 4 must leave one thread free');
        // With a thread always free, an fs request waits for no engine call: its latency is that of
        // the event loop (tens of ms under this load). Without the limiter it queued behind up to one
        // call per layer: a stat took ~2 s and a readFile ~11 s here. The bound is deliberately loose
        // (1 s, or 10 engine calls on a machine so slow that one call takes longer than 100 ms), so
        // a noisy shared machine does not make it flaky while a return of that queueing fails it.
        const bound = Math.max(1000, 10 * callMs);
        assert.ok(fsMaxMs < bound, `an fs.stat took ${fsMaxMs} ms under load (bound ${bound} ms)`);
        assert.ok(readOps >= 1 && readMaxMs < bound, `a readFile took ${readMaxMs} ms under load (bound ${bound} ms)`);
      });
    }
  });
}
