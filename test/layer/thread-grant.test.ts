// A standalone Layer (outside writeImage) takes its threads from the process's thread budget
// (src/engine/budget.ts) when its engine starts, and gives them back when it ends, fails, is
// destroyed, or is collected unfinished. Hazards: a grant leaked by an abandoned layer would starve
// every later layer for the life of the process; a layer that waited for threads while the holder
// waits on it would hang; a layer whose stream could not start (the budget, an engine) must still
// settle `done` and let its source go.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, type ReadStream } from 'node:fs';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { setThreadBudget, threadBudget, ThreadBudget, type ThreadGrant } from '../../src/engine/budget.js';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { capThreads, Layer } from '../../src/layer/layer.js';
import type { LayerOptions } from '../../src/layer/options.js';
import { assertChildOk, childScenario, gcHard, report, runChild, text } from '../helpers/hazard.js';

const MiB = 1024 * 1024;
const data = text(3 * MiB, 5);
const sink = () => new Writable({ write: (_c, _e, done) => done() });
const source = () => Readable.from([data.subarray(0, MiB), data.subarray(MiB)]);
const tick = () => new Promise((r) => setImmediate(r));
const thisFile = fileURLToPath(import.meta.url);
const within = <T>(p: Promise<T>, ms: number, late: T): Promise<T> => Promise.race([p, new Promise<T>((r) => setTimeout(() => r(late), ms).unref())]);
const settled = (layer: Layer): Promise<string> => within(layer.done.then(() => 'resolved', (e: { code?: string }) => `rejected ${e.code}`), 2000, 'pending');
// Closed: its descriptor given back (an fs.ReadStream opens its file as it is made).
const closed = (s: ReadStream): Promise<boolean> => within(s.closed ? Promise.resolve(true) : once(s, 'close').then(() => true), 2000, false);

async function neverRead(budget: ThreadBudget, held: number): Promise<void> {
  // Opened (the engine started, the grant taken), then dropped without a read or a destroy.
  const layer = new Layer(source(), { compressionLevel: 1, threads: 3 });
  layer.compressed();
  assert.equal(budget.stats.inUse, held + 3, 'the opened layer holds its grant');
}

if (childScenario() === 'env-wrong-after-new') {
  // The process's budget is not made yet: the first layer that opens makes it from FASTLAYER_THREADS,
  // right for new Layer, wrong by the time compressed() runs.
  const source = createReadStream(thisFile);
  const layer = new Layer(source, { threads: 2 });
  process.env.FASTLAYER_THREADS = '0';
  let threw: string | undefined;
  let streamError: Promise<string | undefined> = Promise.resolve(undefined);
  try {
    const stream = layer.compressed();
    streamError = within(once(stream, 'error').then(([e]) => (e as { code?: string }).code), 2000, 'no error');
  } catch (err) {
    threw = (err as { code?: string }).code;
  }
  report({ threw, streamError: await streamError, done: await settled(layer), destroyed: source.destroyed, closed: await closed(source) });
} else if (childScenario() === 'never-read') {
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

    it('layer.threads stays the threads asked for (docs/API.md), whatever the budget grants', async () => {
      fresh(2);
      const layer = new Layer(source(), { compressionLevel: 1, threads: 8 });
      const stream = layer.compressed();
      assert.equal(budget.stats.inUse, 2, 'granted 2 of the 8 asked for');
      assert.equal(layer.threads, 8);
      await pipeline(stream, sink());
      await layer.done;
      assert.equal(layer.threads, 8);
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

    it('hazard: a stream that cannot start (budget, engine) still settles done, releases the source and the grant', async () => {
      const cause = new Error('no budget');
      class FailingBudget extends ThreadBudget {
        override tryAcquire(): ThreadGrant | undefined {
          throw cause;
        }
      }
      const cases: { kind: 'compressed' | 'uncompressed'; options: LayerOptions }[] = [
        { kind: 'compressed', options: {} },
        { kind: 'uncompressed', options: {} },
        { kind: 'compressed', options: { compression: 'estargz' } },
      ];
      for (const { kind, options } of cases) {
        const what = `${kind}() ${options.compression ?? 'gzip'}`;
        setThreadBudget(new FailingBudget(4));
        const file = createReadStream(thisFile);
        const readable = Readable.from([data]);
        const layers = [new Layer(file, { ...options, threads: 2 }), new Layer(readable, { ...options, threads: 2 })];
        for (const layer of layers) {
          let stream: Readable | undefined;
          assert.doesNotThrow(() => (stream = layer[kind]()), `${what}: the failure is the stream's, not a throw`);
          const [err] = await once(stream!, 'error');
          assert.equal(err, cause, `${what}: the stream fails with the cause`);
          assert.equal(await within(layer.done.then(() => 'resolved', (e: unknown) => (e === cause ? 'cause' : String(e))), 2000, 'pending'), 'cause', what);
          assert.throws(() => layer.compressed(), { code: 'ERR_LAYER_CONSUMED' });
        }
        assert.ok(file.destroyed && readable.destroyed, `${what}: the sources are released`);
        assert.ok(await closed(file), `${what}: the file is closed`);
      }
      // The grant taken, then the engine cannot start: the grant is given back too.
      if (nativeEngine && Object.getOwnPropertyDescriptor(nativeEngine, 'create')?.writable) {
        fresh(4);
        const create = nativeEngine.create;
        nativeEngine.create = () => {
          throw cause;
        };
        try {
          const file = createReadStream(thisFile);
          const layer = new Layer(file, { engine: 'native', threads: 3 });
          const stream = layer.compressed();
          assert.equal((await once(stream, 'error'))[0], cause);
          await assert.rejects(layer.done, (e) => e === cause);
          assert.ok(await closed(file));
          assert.equal(budget.stats.inUse, 0, 'the grant is given back');
        } finally {
          nativeEngine.create = create;
        }
      }
    });

    it('hazard: a wrong FASTLAYER_THREADS fails new Layer even with threads given', () => {
      const saved = process.env.FASTLAYER_THREADS;
      try {
        for (const bad of ['0', '65', 'x']) {
          process.env.FASTLAYER_THREADS = bad;
          for (const make of [
            () => new Layer(source(), { threads: 2 }),
            () => new Layer(source(), { threads: 2, compression: 'estargz' }),
            () => Layer.fromFile(thisFile, { threads: 1 }),
          ]) {
            assert.throws(make, { code: 'ERR_OPTION_OUT_OF_RANGE', message: /FASTLAYER_THREADS/ });
          }
        }
      } finally {
        if (saved === undefined) delete process.env.FASTLAYER_THREADS;
        else process.env.FASTLAYER_THREADS = saved;
      }
    });

    it('hazard: FASTLAYER_THREADS made wrong after new Layer fails the stream and done, and closes the source', async () => {
      const r = await runChild(import.meta.url, 'env-wrong-after-new', { env: { FASTLAYER_THREADS: '2' }, timeoutMs: 30_000 });
      assertChildOk(r, 'env-wrong-after-new');
      assert.deepEqual(r.report, {
        streamError: 'ERR_OPTION_OUT_OF_RANGE', done: 'rejected ERR_OPTION_OUT_OF_RANGE', destroyed: true, closed: true,
      });
    });

    it('hazard: opened, never read, never destroyed layers free their grants when collected', async () => {
      const r = await runChild(import.meta.url, 'never-read', { execArgv: ['--expose-gc'] });
      assertChildOk(r, 'never-read');
      assert.deepEqual(r.report, { inUse: 0, holders: 0 });
    });
  });
}
