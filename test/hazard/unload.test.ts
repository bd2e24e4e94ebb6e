// Hazard: only worker threads load the addon (a recycled worker pool; the main thread never imports
// fastlayer). Node unloads an addon when the last environment that loaded it exits, and the addon's
// process-wide state (the block pool's helper threads with their ISA-L states, the output block
// cache) was never freed: about 300 KB per worker lifetime with threads: 4. The addon now stays
// loaded for the life of the process (native/addon/addon.cc, KeepLoaded). This module's main thread must
// not import the library, so the scenario imports nothing that loads the addon.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { assertChildOk, childScenario, report, runChild } from '../helpers/hazard.js';

const WORKERS = 200;
const WARM_UP = 40;

// Runs in each worker: loads the library (and the addon), compresses 2 MiB on 4 threads, exits.
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.layerUrl).then(async ({ Layer }) => {
  const input = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < input.length; i++) input[i] = (i * 7 + (i >> 9)) & 0x3f;
  const layer = new Layer(input, { compressionLevel: 1, threads: 4 });
  for await (const _ of layer.compressed()) void _;
  const v = await layer.done;
  parentPort.postMessage({ engine: layer.engine.name, size: v.size });
});
`;

async function workerLifetimes(): Promise<void> {
  const layerUrl = new URL('../../src/layer/layer.js', import.meta.url).href;
  const rss: number[] = [];
  let engine = '';
  // The premise: nothing in this thread mapped the addon (Linux: /proc/self/maps).
  const maps = () => (existsSync('/proc/self/maps') ? readFileSync('/proc/self/maps', 'utf8') : '');
  const addonMappedBefore = /fastlayer\.node/.test(maps());
  for (let i = 0; i < WORKERS; i++) {
    const w = new Worker(WORKER_CODE, { eval: true, workerData: { layerUrl } });
    // Both listeners at once: a worker's last message and its 'exit' can come in the same turn.
    const exited = new Promise((resolve) => w.once('exit', resolve));
    const message = await new Promise<{ engine: string }>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code} before reporting`)));
    });
    engine = message.engine;
    await exited;
    if (i + 1 === WARM_UP || i + 1 === WORKERS) {
      (globalThis as { gc?: () => void }).gc?.();
      rss.push(process.memoryUsage.rss());
    }
  }
  report({ engine, growthMiB: (rss[1]! - rss[0]!) / 1024 / 1024, addonMappedBefore });
}

if (childScenario() === 'worker lifetimes') {
  await workerLifetimes();
} else {
  describe('hazard: the addon loaded only by worker threads', () => {
    test(`RSS stays flat over ${WORKERS} worker lifetimes (threads: 4), the main thread never loading the addon`, async (t) => {
      const r = await runChild(import.meta.url, 'worker lifetimes', { execArgv: ['--expose-gc'], timeoutMs: 300_000 });
      assertChildOk(r, 'worker lifetimes');
      t.diagnostic(JSON.stringify(r.report));
      if (r.report.engine !== 'native') return t.skip(`the workers used the ${r.report.engine} engine: nothing native to leak`);
      assert.equal(r.report.addonMappedBefore, false, 'the main thread of the scenario loaded the addon');
      // Measured here: +18.9 MiB before the fix (~120 KB per lifetime), +2.5 MiB after.
      assert.ok(r.report.growthMiB < 8, `RSS grew ${r.report.growthMiB.toFixed(1)} MiB over ${WORKERS - WARM_UP} worker lifetimes`);
    });
  });
}
