// Hazard: the stream forms (createGzip in pipeline(), LayerCompressionStream in pipeThrough()) torn
// down at every stage of a layer's life, on every engine: destroy or abort of the stream, the layer's
// abort signal, the pipe's signal, the source failing, the consumer failing. Afterwards: the pipeline
// fails with the cause and does not hang, `done` rejects with it, the values stay not computed, the
// engine is released, nothing rejects unhandled, and the engine still works.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ReadableStream, WritableStream, type ReadableStreamDefaultController, type WritableStreamDefaultController } from 'node:stream/web';
import { describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import type { EngineFactory } from '../../src/engine/engine.js';
import { availableEngines } from '../../src/engine/engines.js';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { ErrDestroyed } from '../../src/core/errors.js';
import { createGzip } from '../../src/layer/create-gzip.js';
import type { Layer } from '../../src/layer/layer.js';
import { LayerCompressionStream } from '../../src/layer/web-stream.js';
import { assertFailed, deferred, MiB, probeEngine, settleCalls, text, type EngineProbe } from '../helpers/hazard.js';

type Stage = 'before the first write' | 'while a call is in flight' | 'between calls' | 'during finish';
type Form = 'createGzip in pipeline()' | 'LayerCompressionStream in pipeThrough()';
const NODE_TRIGGERS = ['destroy()', 'destroy(err)', 'abort signal', 'source error', 'consumer error'] as const;
const WEB_TRIGGERS = ['writable.abort(reason)', 'abort signal', 'pipe signal', 'source error', 'consumer error'] as const;
type Trigger = (typeof NODE_TRIGGERS)[number] | (typeof WEB_TRIGGERS)[number];

const CLOSE_TIMEOUT_MS = 20_000;

/** One stream form wired between a source we feed and a sink we can fail. */
interface Rig {
  /** What the values come from (the transform itself): Layer-shaped for assertFailed(). */
  values: Layer;
  feed(chunk: Uint8Array): void;
  end(): void;
  /** Resolves when the sink has received its first output (an engine call has completed). */
  firstOutput: Promise<void>;
  fire(trigger: Trigger): void;
  /** Settles with the pipeline's error (undefined when it succeeded). */
  result: Promise<unknown>;
}

function nodeRig(engine: EngineFactory, cause: Error): Rig {
  const controller = new AbortController();
  const gz = createGzip({ engine: engine.name, level: 9, signal: controller.signal });
  const source = new Readable({ read() {} });
  const first = deferred();
  const sink = new Writable({
    write(_chunk, _encoding, callback) {
      first.resolve();
      callback();
    },
  });
  const result = pipeline(source, gz, sink).then(() => undefined, (err: unknown) => err);
  return {
    values: gz as unknown as Layer,
    feed: (chunk) => source.push(chunk),
    end: () => source.push(null),
    firstOutput: first.promise,
    result,
    fire(trigger) {
      if (trigger === 'destroy()') gz.destroy();
      else if (trigger === 'destroy(err)') gz.destroy(cause);
      else if (trigger === 'abort signal') controller.abort(cause);
      else if (trigger === 'source error') source.destroy(cause);
      else if (trigger === 'consumer error') sink.destroy(cause);
      else throw new Error(`not a Node trigger: ${trigger}`);
    },
  };
}

function webRig(engine: EngineFactory, cause: Error, trigger: Trigger): Rig {
  const controller = new AbortController();
  const pipeController = new AbortController();
  const stream = new LayerCompressionStream({ engine: engine.name, compressionLevel: 9, signal: controller.signal });
  let sinkController!: WritableStreamDefaultController;
  const first = deferred();
  const sink = new WritableStream<Uint8Array>({
    start: (c) => void (sinkController = c),
    write: () => first.resolve(),
  });
  const settled = (p: Promise<void>) => p.then(() => undefined, (err: unknown) => err);
  if (trigger === 'writable.abort(reason)') {
    // The producer holds the writer itself (a pipe would hold it instead) and aborts it.
    const writer = stream.writable.getWriter();
    const ignore = () => {};
    return {
      values: stream as unknown as Layer,
      feed: (chunk) => void writer.write(chunk).catch(ignore),
      end: () => void writer.close().catch(ignore),
      firstOutput: first.promise,
      result: settled(stream.readable.pipeTo(sink)),
      fire: () => void writer.abort(cause),
    };
  }
  let sourceController!: ReadableStreamDefaultController<Uint8Array>;
  const source = new ReadableStream<Uint8Array>({ start: (c) => void (sourceController = c) });
  return {
    values: stream as unknown as Layer,
    feed: (chunk) => sourceController.enqueue(chunk),
    end: () => sourceController.close(),
    firstOutput: first.promise,
    result: settled(source.pipeThrough(stream, { signal: pipeController.signal }).pipeTo(sink)),
    fire(trigger) {
      if (trigger === 'abort signal') controller.abort(cause);
      else if (trigger === 'pipe signal') pipeController.abort(cause);
      else if (trigger === 'source error') sourceController.error(cause);
      else if (trigger === 'consumer error') sinkController.error(cause);
      else throw new Error(`not a web trigger: ${trigger}`);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: hang`)), CLOSE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function run(form: Form, engine: EngineFactory, probe: EngineProbe | undefined, stage: Stage, trigger: Trigger): Promise<number> {
  const cause = new Error(`${trigger} ${stage}`);
  const rig = form === 'createGzip in pipeline()' ? nodeRig(engine, cause) : webRig(engine, cause, trigger);
  let inFlightAtTrigger = -1;
  const fire = () => {
    inFlightAtTrigger = probe ? probe.inFlight : -1;
    rig.fire(trigger);
  };
  if (probe && (stage === 'while a call is in flight' || stage === 'during finish')) {
    const op = stage === 'during finish' ? 'finish' : 'update';
    probe.onStart = (started) => {
      // setImmediate: the call has left this tick and is queued or running on the threadpool.
      if (started === op) setImmediate(fire);
    };
  }
  if (stage === 'before the first write') {
    fire();
    // The trigger may have closed the source already.
    if (trigger !== 'source error') rig.feed(text(MiB));
  } else if (stage === 'while a call is in flight') {
    rig.feed(text(2 * MiB));
    // Without a probe (frozen factory), level 9 keeps the first call busy far longer than this.
    if (!probe) setTimeout(fire, 10);
  } else if (stage === 'between calls') {
    // The first call's output reached the sink; the source has nothing more yet: the engine idles.
    rig.feed(text(MiB, 2));
    void rig.firstOutput.then(() => setImmediate(fire));
  } else {
    rig.feed(text(MiB + BLOCK_SIZE - 1, 3));
    rig.end();
    // Without a probe: the final calls start as soon as the first output is out, and last far longer
    // than a turn of the event loop at level 9.
    if (!probe) void rig.firstOutput.then(() => setImmediate(fire));
  }
  const error = await withTimeout(rig.result, 'the pipeline');
  if (closedBeforeTrigger(form, stage, trigger)) {
    // The writable side was closed before the trigger: as with CompressionStream, an abort of the
    // writer or the pipe can no longer interrupt it, and the layer completes. Without a probe the
    // trigger may also have come just before the close; then the layer fails as anywhere else.
    if (error === undefined) {
      const values = await rig.values.done;
      assert.ok(values.digest.equals(rig.values.digest()));
      return inFlightAtTrigger;
    }
    assert.ok(!probe, `the pipeline failed although the writable side was closed: ${String(error)}`);
  }
  const expected =
    trigger === 'destroy()' ? (e: unknown) => e instanceof ErrDestroyed && e.code === 'ERR_LAYER_DESTROYED' : cause;
  await withTimeout(assertFailed(rig.values, expected), '`done`');
  if (trigger === 'destroy()') assert.equal((error as { code?: string }).code, 'ERR_STREAM_PREMATURE_CLOSE');
  else assert.equal(error, cause, 'the pipeline must fail with the cause');
  return inFlightAtTrigger;
}

function closedBeforeTrigger(form: Form, stage: Stage, trigger: Trigger): boolean {
  return form !== 'createGzip in pipeline()' && stage === 'during finish' &&
    (trigger === 'writable.abort(reason)' || trigger === 'pipe signal');
}

async function stillWorks(form: Form, engine: EngineFactory): Promise<void> {
  const input = text(300_000, 9);
  const parts: Buffer[] = [];
  if (form === 'createGzip in pipeline()') {
    const gz = createGzip({ engine: engine.name });
    await pipeline(Readable.from([input]), gz, new Writable({ write: (c: Buffer, _e, cb) => void (parts.push(c), cb()) }));
  } else {
    const stream = new LayerCompressionStream({ engine: engine.name });
    const source = new ReadableStream<Uint8Array>({ start: (c) => void (c.enqueue(input), c.close()) });
    await source.pipeThrough(stream).pipeTo(new WritableStream({ write: (c) => void parts.push(Buffer.from(c)) }));
  }
  assert.ok(zlib.gunzipSync(Buffer.concat(parts)).equals(input));
}

const stages: Stage[] = ['before the first write', 'while a call is in flight', 'between calls', 'during finish'];
const forms: [Form, readonly Trigger[]][] = [
  ['createGzip in pipeline()', NODE_TRIGGERS],
  ['LayerCompressionStream in pipeThrough()', WEB_TRIGGERS],
];

for (const engine of availableEngines()) {
  for (const [form, triggers] of forms) {
    describe(`hazard: ${form} torn down on the ${engine.name} engine`, () => {
      for (const stage of stages) {
        for (const trigger of triggers) {
          // The source has ended before the finish call: it cannot fail any more.
          if (stage === 'during finish' && trigger === 'source error') continue;
          test(`${trigger} ${stage}`, async (t) => {
            const probe = probeEngine(engine);
            if (!probe) t.diagnostic('engine factory is frozen: call windows hit by timing, not verified');
            try {
              const inFlight = await run(form, engine, probe, stage, trigger);
              if (probe && (stage === 'while a call is in flight' || stage === 'during finish')) {
                assert.ok(inFlight > 0, `the ${trigger} did not happen while a call was in flight`);
              }
              if (probe && stage === 'between calls') assert.equal(inFlight, 0, 'a call was in flight between calls');
              await settleCalls(probe, CLOSE_TIMEOUT_MS);
              if (probe && !closedBeforeTrigger(form, stage, trigger)) assert.ok(probe.destroyed >= 1, 'the engine was not released');
            } finally {
              probe?.restore();
            }
            await stillWorks(form, engine);
          });
        }
      }
    });
  }
}
