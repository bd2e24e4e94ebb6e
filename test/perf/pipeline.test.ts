// The Layer hot path (src/layer/layer-stream.ts over src/layer/coalesce.ts): engine calls carry about 1 MiB of
// views, the next input is read while the engine works, never more than one input ahead, and a
// read-ahead that fails or is cut short by destroy() is handled. Behaviour only, never speed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { isUint8Array } from 'node:util/types';
import type { Engine, EngineFactory, EngineInput, EngineResult } from '../../src/engine/engine.js';
import { MAX_UPDATE } from '../../src/layer/coalesce.js';
import { ErrDestroyed } from '../../src/core/errors.js';
import { LayerStream, type StreamKind } from '../../src/layer/layer-stream.js';
import { openSource } from '../../src/layer/source.js';
import { collect, engines, sha256 } from '../helpers/layer.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';

/** Wraps a real engine: records each update's pieces, can hold calls open, checks sequencing. */
class SpyEngine implements Engine {
  readonly calls: Uint8Array[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  destroyed = false;
  /** While set, update() waits for it before running. */
  gate: Promise<void> | undefined;
  failOnCall: number | undefined;

  constructor(private readonly inner: Engine) {}

  async update(input: EngineInput): Promise<Uint8Array> {
    const list = isUint8Array(input) ? [input] : [...input];
    this.calls.push(list);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      if (this.failOnCall === this.calls.length) throw new Error('engine failed');
      return await this.inner.update(list);
    } finally {
      this.inFlight--;
    }
  }

  finish(): Promise<EngineResult> {
    return this.inner.finish();
  }

  destroy(): void {
    this.destroyed = true;
    this.inner.destroy();
  }
}

function stream(source: AsyncIterable<Uint8Array>, engine: SpyEngine, kind: StreamKind = 'compressed') {
  const outcome: { result?: EngineResult; failure?: unknown } = {};
  const s = new LayerStream(openSource(source), engine, kind, {
    complete: (result) => (outcome.result = result),
    fail: (cause) => (outcome.failure = cause),
  });
  return { s, outcome };
}

/** A source of `chunk`-byte pieces of `data` that counts what was pulled and notices return(). */
function counted(data: Uint8Array, chunk: number) {
  const state = { pulled: 0, finalized: false };
  async function* gen() {
    try {
      for (let i = 0; i < data.length; i += chunk) {
        const piece = data.subarray(i, i + chunk);
        state.pulled += piece.length;
        yield piece;
      }
    } finally {
      state.finalized = true;
    }
  }
  return { source: gen(), state };
}

function open(): { gate: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { gate, release };
}

async function untilTrue(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(5);
  assert.ok(condition(), `timed out waiting for ${what}`);
}

function withoutUnhandledRejections(): { seen: unknown[]; stop: () => void } {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  return { seen, stop: () => process.off('unhandledRejection', onUnhandled) };
}

for (const factory of engines as EngineFactory[]) {
  const create = () => factory.create({ level: 1, compression: 'gzip' });

  describe(`Layer hot path [${factory.name}]`, () => {
    it('64 KiB source chunks reach the engine as ~1 MiB calls of the same memory; bytes unchanged', async () => {
      const input = semiCompressible(5 * MAX_UPDATE + 4321, 9);
      const { source } = counted(input, 64 * 1024);
      const spy = new SpyEngine(create());
      const { s, outcome } = stream(source, spy);
      const out = await collect(s);
      assert.deepEqual(spy.calls.map((l) => l.reduce((n, c) => n + c.length, 0)), [...Array(5).fill(MAX_UPDATE), 4321]);
      for (const piece of spy.calls.flat()) assert.equal(piece.buffer, input.buffer, 'a source chunk was copied');
      assert.equal(spy.maxInFlight, 1, 'engine calls overlapped');

      // Same bytes as one engine fed the whole input in a single call.
      const reference = create();
      const expected = Buffer.concat([await reference.update(input), (await reference.finish()).tail]);
      assert.ok(out.equals(expected));
      assert.equal(outcome.result!.digest, sha256(out));
      assert.equal(outcome.result!.diffID, sha256(input));
    });

    it('reads the next input while the engine works, and never more than one input ahead', async () => {
      const input = randomBytes(8 * MAX_UPDATE, 4);
      const { source, state } = counted(input, 64 * 1024);
      const spy = new SpyEngine(create());
      const held = open();
      spy.gate = held.gate;
      const { s } = stream(source, spy);
      s.resume();
      await untilTrue(() => spy.calls.length === 1, 'the first engine call');
      // The first call is held open: the source is read for the next input meanwhile...
      await untilTrue(() => state.pulled >= 2 * MAX_UPDATE, 'the read-ahead');
      await sleep(50);
      // ...and no further: one input in the engine, one gathered.
      assert.equal(state.pulled, 2 * MAX_UPDATE);
      assert.equal(spy.calls.length, 1);
      spy.gate = undefined;
      held.release();
      await once(s, 'end');
      assert.equal(spy.calls.length, 8);
      assert.equal(spy.maxInFlight, 1);
    });

    it('a consumer that never reads leaves the source pulled by a few MiB at most', async () => {
      const input = randomBytes(32 * MAX_UPDATE, 5);
      const { source, state } = counted(input, 64 * 1024);
      const spy = new SpyEngine(create());
      const { s, outcome } = stream(source, spy);
      s.on('readable', () => {}); // fills the buffer to its high-water mark, reads nothing
      await sleep(300);
      const pulled = state.pulled;
      await sleep(200);
      assert.equal(state.pulled, pulled, 'pulling stopped');
      assert.ok(pulled <= 4 * MAX_UPDATE, `pulled ${pulled} bytes`);
      s.destroy();
      await once(s, 'close');
      await untilTrue(() => state.finalized, 'the source to be returned');
      assert.ok(outcome.failure instanceof ErrDestroyed);
      assert.ok(spy.destroyed);
    });

    it('a read-ahead that fails while nobody awaits it is not an unhandled rejection; it errors the stream', async () => {
      const watch = withoutUnhandledRejections();
      try {
        const good = semiCompressible(MAX_UPDATE, 2);
        async function* failing() {
          yield good;
          throw new Error('source failed');
        }
        const spy = new SpyEngine(create());
        const held = open();
        spy.gate = held.gate;
        const { s, outcome } = stream(failing(), spy);
        const errored = once(s, 'error').then(([err]) => err as Error, (err: Error) => err);
        s.resume();
        await untilTrue(() => spy.calls.length === 1, 'the first engine call');
        await sleep(50); // the read-ahead has failed by now, with the engine call still open
        spy.gate = undefined;
        held.release();
        assert.match((await errored).message, /source failed/);
        assert.match(String(outcome.failure), /source failed/);
        await sleep(20);
      } finally {
        watch.stop();
      }
      assert.deepEqual(watch.seen, []);
    });

    it('destroy() during a read-ahead stops the source and the engine; nothing settles unhandled', async () => {
      const watch = withoutUnhandledRejections();
      let finalized = false;
      let stalled!: () => void;
      async function* stalling() {
        try {
          yield semiCompressible(MAX_UPDATE, 3);
          yield semiCompressible(1000, 4);
          await new Promise<void>((r) => (stalled = r)); // a producer that stops producing
        } finally {
          finalized = true;
        }
      }
      try {
        const spy = new SpyEngine(create());
        const held = open();
        spy.gate = held.gate;
        const { s, outcome } = stream(stalling(), spy);
        s.on('error', () => {});
        s.resume();
        await untilTrue(() => spy.calls.length === 1 && stalled !== undefined, 'an engine call and a stalled read-ahead');
        const closed = new Promise((resolve) => s.on('close', resolve));
        s.destroy(new Error('stop'));
        await closed;
        held.release();
        stalled();
        await untilTrue(() => finalized, 'the source to be returned');
        await sleep(20);
        assert.ok(spy.destroyed);
        assert.equal(spy.calls.length, 1, 'no engine call after destroy');
        assert.match(String(outcome.failure), /stop/);
      } finally {
        watch.stop();
      }
      assert.deepEqual(watch.seen, []);
    });

    it('an engine failure with a read-ahead pending errors the stream and closes the source', async () => {
      const input = semiCompressible(4 * MAX_UPDATE, 8);
      const { source, state } = counted(input, 64 * 1024);
      const spy = new SpyEngine(create());
      spy.failOnCall = 2;
      const { s, outcome } = stream(source, spy);
      await assert.rejects(collect(s), /engine failed/);
      await untilTrue(() => state.finalized, 'the source to be returned');
      assert.match(String(outcome.failure), /engine failed/);
      assert.ok(spy.destroyed);
    });

    it('uncompressed(): the pieces the engine took, in order, also through read-ahead', async () => {
      const input = semiCompressible(3 * MAX_UPDATE + 777, 12);
      const sizes = [1, 100, 70_000, 3000, 64 * 1024, 5];
      const chunks: Uint8Array[] = [];
      for (let pos = 0, i = 0; pos < input.length; i++) {
        const n = Math.min(sizes[i % sizes.length]!, input.length - pos);
        chunks.push(input.subarray(pos, (pos += n)));
      }
      const spy = new SpyEngine(create());
      const { s, outcome } = stream((async function* () { yield* chunks; })(), spy, 'uncompressed');
      const pieces: Buffer[] = [];
      for await (const p of s) pieces.push(p as Buffer);
      assert.ok(Buffer.concat(pieces).equals(input));
      assert.equal(outcome.result!.diffID, sha256(input));
    });
  });

  describe(`engine update() with a list [${factory.name}]`, () => {
    it('gives the bytes of one update of the concatenation, wherever the list is cut', async () => {
      const input = semiCompressible(3 * 256 * 1024 + 99_999, 13);
      const reference = create();
      const expected = Buffer.concat([await reference.update(input), (await reference.finish()).tail]);
      // Many small pieces per call: several partial blocks fill within one call.
      const cuts = [[100_000], [1, 0, 262_143, 262_145], [7_000, 300_000, 5], [65_536]];
      for (const sizes of cuts) {
        const e = create();
        const parts: Uint8Array[] = [];
        let pos = 0;
        while (pos < input.length) {
          const list: Uint8Array[] = [];
          for (const n of sizes) list.push(input.subarray(pos, (pos = Math.min(input.length, pos + n))));
          for (let k = 0; k < 12 && pos < input.length; k++) list.push(input.subarray(pos, (pos = Math.min(input.length, pos + 40_000))));
          parts.push(Buffer.from(await e.update(list)));
        }
        parts.push((await e.finish()).tail);
        assert.ok(Buffer.concat(parts).equals(expected), `cut ${sizes.join(',')}`);
      }
    });

    it('an empty list changes nothing', async () => {
      const input = semiCompressible(300_000, 14);
      const a = create();
      const b = create();
      const outA = Buffer.concat([await a.update(input), (await a.finish()).tail]);
      const partsB = [await b.update([]), await b.update([input]), await b.update([]), (await b.finish()).tail];
      assert.ok(Buffer.concat(partsB).equals(outA));
    });
  });
}
