// src/layer/layer-stream.ts tells its engine whether the consumer is behind (Engine.consumerSlow),
// so the native engine can have the collector run sooner while the layer waits anyway. A hint: the
// bytes never depend on it.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import type { Engine, EngineInput, EngineResult } from '../../src/engine/engine.js';
import { LayerStream } from '../../src/layer/layer-stream.js';
import type { ChunkReader } from '../../src/layer/readers.js';

/** A reader of `count` chunks of `size` bytes. */
function chunks(count: number, size: number): ChunkReader {
  let left = count;
  return {
    next: async () => (left-- > 0 ? new Uint8Array(size) : null),
    close: () => {},
  };
}

/** An engine whose output is its input, recording what it is told of its consumer. */
function recordingEngine(told: boolean[]): Engine {
  let size = 0;
  return {
    async update(input: EngineInput): Promise<Uint8Array> {
      const list = input instanceof Uint8Array ? [input] : input;
      const out = Buffer.concat(list);
      size += out.length;
      return out;
    },
    async finish(): Promise<EngineResult> {
      return { tail: new Uint8Array(0), digest: '', diffID: '', size };
    },
    destroy() {},
    consumerSlow(slow: boolean) {
      told.push(slow);
    },
  };
}

function run(consumer: Writable, told: boolean[]): Promise<void> {
  const hooks = { complete: () => {}, fail: () => {} };
  return pipeline(new LayerStream(chunks(8, 1024 * 1024), recordingEngine(told), 'compressed', hooks), consumer);
}

describe('LayerStream: the engine is told when its consumer is behind', () => {
  it('a consumer that takes each output as it comes: never told', async () => {
    const told: boolean[] = [];
    await run(new Writable({ write: (_c, _e, cb) => cb() }), told);
    assert.deepEqual(told, []);
  });

  it('a consumer that takes its time: told once it is behind, and only on changes', async () => {
    const told: boolean[] = [];
    const slow = new Writable({ highWaterMark: 1, write: (_c, _e, cb) => setTimeout(cb, 20) });
    await run(slow, told);
    assert.equal(told[0], true);
    for (let i = 1; i < told.length; i++) assert.notEqual(told[i], told[i - 1], `told ${told.join(',')}`);
  });
});
