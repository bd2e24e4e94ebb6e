// Hazard: one AbortSignal shared by many layers in flight (one signal per build). Node warns
// (MaxListenersExceededWarning) once an AbortSignal has more than 10 listeners; the layers of a
// signal must share one listener, stay collectable, and still all abort.
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { availableEngines } from '../../src/engine/engines.js';
import { Layer } from '../../src/layer/layer.js';
import { deferred, text, tick } from '../helpers/hazard.js';

/** A source that yields one chunk, then waits until `gate` opens (or forever). */
async function* stalled(gate: Promise<void>): AsyncGenerator<Uint8Array> {
  yield text(64 * 1024, 3);
  await gate;
}

/** Warnings emitted while `body` runs (and a few turns of the loop after it). */
async function warningsDuring(body: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const onWarning = (w: Error) => seen.push(w);
  process.on('warning', onWarning);
  try {
    await body();
    for (let i = 0; i < 5; i++) await tick();
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('hazard: one AbortSignal shared by many layers', () => {
  for (const { name } of availableEngines()) {
    test(`${name}: 50 layers in flight on one signal: no MaxListenersExceededWarning, one listener, all abort`, async () => {
      const controller = new AbortController();
      const gate = deferred();
      const reason = new Error('build cancelled');
      const layers: Layer[] = [];
      const errors: Promise<unknown>[] = [];
      const warnings = await warningsDuring(async () => {
        for (let i = 0; i < 50; i++) {
          const layer = new Layer(stalled(gate.promise), { engine: name, signal: controller.signal });
          const stream = layer.compressed();
          errors.push(new Promise((resolve) => stream.on('error', resolve).on('data', () => {})));
          layers.push(layer);
        }
        await tick();
        assert.equal(getEventListeners(controller.signal, 'abort').length, 1, 'one shared listener');
        controller.abort(reason);
        const causes = await Promise.all(layers.map((l) => l.done.then(() => 'resolved', (e: unknown) => e)));
        for (const cause of causes) assert.equal(cause, reason);
        for (const err of await Promise.all(errors)) assert.equal(err, reason);
      });
      const maxListeners = warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
      assert.deepEqual(maxListeners.map(String), []);
      gate.resolve();
    });

    test(`${name}: the shared listener goes once every layer of the signal is done, and comes back for new ones`, async () => {
      const controller = new AbortController();
      const run = async (count: number) => {
        const layers = Array.from({ length: count }, (_, i) => new Layer(text(10_000, i), { engine: name, signal: controller.signal }));
        assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
        for (const layer of layers) for await (const _ of layer.compressed()) void _;
        await Promise.all(layers.map((l) => l.done));
        assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
      };
      const warnings = await warningsDuring(async () => {
        await run(20);
        await run(15);
      });
      assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map(String), []);
      // Still wired after the listener was removed and added again.
      const gate = deferred();
      const layer = new Layer(stalled(gate.promise), { engine: name, signal: controller.signal });
      layer.compressed().on('data', () => {}).on('error', () => {});
      controller.abort('stop');
      assert.equal(await layer.done.then(() => 'resolved', (e: unknown) => e), 'stop');
      gate.resolve();
    });
  }
});
