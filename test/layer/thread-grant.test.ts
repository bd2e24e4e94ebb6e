// A standalone Layer (outside writeImage) takes its threads from the process's thread budget
// (src/engine/budget.ts) when its engine starts, and gives them back when it ends, fails, is
// destroyed, or is collected unfinished. Hazards: a grant leaked by an abandoned layer would starve
// every later layer for the life of the process; a layer that waited for threads while the holder
// waits on it would hang.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setThreadBudget, threadBudget, ThreadBudget } from '../../src/engine/budget.js';
import { capThreads, Layer } from '../../src/layer/layer.js';
import { assertChildOk, childScenario, gcHard, report, runChild, text } from '../helpers/hazard.js';

const MiB = 1024 * 1024;
const data = text(3 * MiB, 5);
const sink = () => new Writable({ write: (_c, _e, done) => done() });
const source = () => Readable.from([data.subarray(0, MiB), data.subarray(MiB)]);
const tick = () => new Promise((r) => setImmediate(r));

async function neverRead(budget: ThreadBudget, held: number): Promise<void> {
  // Opened (the engine started, the grant taken), then dropped without a read or a destroy.
  const layer = new Layer(source(), { compressionLevel: 1, threads: 3 });
  layer.compressed();
  assert.equal(budget.stats.inUse, held + 3, 'the opened layer holds its grant');
}

if (childScenario() === 'never-read') {
  const budget = new ThreadBudget(15);
  setThreadBudget(budget);
  for (let i = 0; i < 5; i++) await neverRead(budget, 3 * i);
  await gcHard();
  report({ inUse: budget.stats.inUse, holders: budget.stats.holders });
} else {
  describe('a standalone layer and the thread budget', () => {
    let saved: ThreadBudget;
    let budget: ThreadBudget;
    before(() => {
      saved = threadBudget();
    });
    after(() => setThreadBudget(saved));
    const fresh = (capacity: number) => {
      budget = new ThreadBudget(capacity);
      setThreadBudget(budget);
    };

    it('takes its threads when its engine starts and gives them back at the end', async () => {
      fresh(4);
      const layer = new Layer(source(), { compressionLevel: 1, threads: 3 });
      assert.equal(budget.stats.inUse, 0, 'nothing is taken before the stream opens');
      const stream = layer.compressed();
      assert.equal(budget.stats.inUse, 3);
      await pipeline(stream, sink());
      await layer.done;
      assert.equal(budget.stats.inUse, 0);
      assert.equal(budget.stats.holders, 0);
    });

    it('gets fewer threads when fewer are free, and one, outside the budget, when none is', async () => {
      fresh(4);
      const a = new Layer(source(), { compressionLevel: 1, threads: 3 });
      const b = new Layer(source(), { compressionLevel: 1, threads: 3 });
      const c = new Layer(source(), { compressionLevel: 1, threads: 3 });
      const sa = a.compressed();
      const sb = b.compressed();
      assert.equal(budget.stats.inUse, 4, 'the second layer got the one thread left');
      const sc = c.compressed();
      assert.equal(budget.stats.inUse, 4, 'the third layer took nothing: none was free');
      assert.equal(budget.stats.waiting, 0, 'and it never waits');
      await Promise.all([pipeline(sa, sink()), pipeline(sb, sink()), pipeline(sc, sink())]);
      const digests = await Promise.all([a.done, b.done, c.done]);
      assert.equal(new Set(digests.map((v) => v.digest.toString())).size, 1, 'the bytes do not depend on the threads');
      assert.equal(budget.stats.inUse, 0);
    });

    it('hazard: no deadlock when a layer is read only after another that needs threads ends', async () => {
      fresh(2);
      const holder = new Layer(source(), { compressionLevel: 1, threads: 2 });
      const held = holder.compressed(); // holds every thread, and is not read until `second` ends
      assert.equal(budget.stats.inUse, 2);
      const second = new Layer(source(), { compressionLevel: 1, threads: 2 });
      await pipeline(second.compressed(), sink());
      await second.done;
      await pipeline(held, sink());
      await holder.done;
      assert.equal(budget.stats.inUse, 0);
    });

    it('hazard: a destroyed layer, and one whose source fails, give their grant back', async () => {
      fresh(4);
      const layer = new Layer(source(), { compressionLevel: 1, threads: 3 });
      const stream = layer.compressed();
      assert.equal(budget.stats.inUse, 3);
      stream.destroy();
      await assert.rejects(layer.done);
      await tick();
      assert.equal(budget.stats.inUse, 0, 'destroyed');
      const failing = new Layer((async function* () {
        yield data.subarray(0, MiB);
        throw new Error('source broke');
      })(), { compressionLevel: 1, threads: 3 });
      await assert.rejects(pipeline(failing.compressed(), sink()), /source broke/);
      await assert.rejects(failing.done);
      assert.equal(budget.stats.inUse, 0, 'failed');
    });

    it('a layer whose threads writeImage granted (capThreads) takes nothing more', async () => {
      fresh(4);
      const layer = new Layer(source(), { compressionLevel: 1, threads: 3 });
      capThreads(layer, 2);
      const stream = layer.compressed();
      assert.equal(budget.stats.inUse, 0);
      await pipeline(stream, sink());
      await layer.done;
      assert.equal(budget.stats.inUse, 0);
    });

    it('hazard: opened, never read, never destroyed layers free their grants when collected', async () => {
      const r = await runChild(import.meta.url, 'never-read', { execArgv: ['--expose-gc'] });
      assertChildOk(r, 'never-read');
      assert.deepEqual(r.report, { inUse: 0, holders: 0 });
    });
  });
}
