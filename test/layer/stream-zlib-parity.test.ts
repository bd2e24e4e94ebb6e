// createGzip() behaves as zlib.createGzip() where streams can tell them apart: the same events, in
// the same order, with the same errors, for destroy, errors on either side, and pipeline() failures.
// Each scenario runs on zlib and on createGzip(); their logs must be equal, but for two orders no
// caller can rely on: when a write's callback comes relative to 'close' (the layer may have taken
// the chunk before the destroy, zlib calls back after its in-flight call), and 'finish' relative to
// 'end' (any Transform with an asynchronous flush, Node's own included, may end first).
import assert from 'node:assert/strict';
import { Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { describe, it } from 'node:test';
import * as zlib from 'node:zlib';
import { ErrDestroyed } from '../../src/core/errors.js';
import { createGzip, type LayerTransform } from '../../src/layer/create-gzip.js';
import { semiCompressible } from '../helpers/data.js';
import { engines } from '../helpers/layer.js';
import { probeEngine } from '../helpers/hazard.js';

type Log = string[];

function record(stream: Transform, log: Log): Promise<void> {
  for (const event of ['error', 'finish', 'end']) {
    stream.on(event, (err?: Error & { code?: string }) => log.push(err ? `${event}:${err.code ?? err.message}` : event));
  }
  return new Promise((resolve) => stream.on('close', () => {
    log.push('close');
    resolve();
  }));
}

const later = (ms = 50) => new Promise((r) => setTimeout(r, ms));
const cb = (log: Log, name: string) => (err?: (Error & { code?: string }) | null) => log.push(`${name}:${err ? err.code ?? err.message : 'ok'}`);
const INPUT = semiCompressible(300_000);

/** The log in the parts whose order matters, and the rest as sorted lists. */
function normalise(log: Log): { ordered: Log; callbacks: Log; ends: Log } {
  const isCallback = (e: string) => /^(write|end):/.test(e);
  const isEnd = (e: string) => e === 'finish' || e === 'end';
  return {
    ordered: log.filter((e) => !isCallback(e) && !isEnd(e)),
    callbacks: log.filter(isCallback).sort(),
    ends: log.filter(isEnd).sort(),
  };
}

interface Scenario {
  name: string;
  run(gz: Transform, log: Log): Promise<void>;
  /** What `done` of createGzip() rejects with (undefined: resolves). */
  cause?: (err: unknown) => boolean;
}

const boom = new Error('boom');
const scenarios: Scenario[] = [
  {
    name: 'destroy() right after a write',
    cause: (e) => e instanceof ErrDestroyed,
    async run(gz, log) {
      const closed = record(gz, log);
      gz.write(INPUT, cb(log, 'write'));
      gz.destroy();
      await closed;
      await later();
    },
  },
  {
    name: 'destroy(err) right after a write',
    cause: (e) => e === boom,
    async run(gz, log) {
      const closed = record(gz, log);
      gz.write(INPUT, cb(log, 'write'));
      gz.destroy(boom);
      await closed;
      await later();
    },
  },
  {
    name: 'write after destroy',
    cause: (e) => e instanceof ErrDestroyed,
    async run(gz, log) {
      const closed = record(gz, log);
      gz.destroy();
      log.push(`write returned ${gz.write(INPUT, cb(log, 'write'))}`);
      await closed;
      await later();
    },
  },
  {
    name: 'end() then destroy() before finishing',
    cause: (e) => e instanceof ErrDestroyed,
    async run(gz, log) {
      const closed = record(gz, log);
      gz.end(INPUT, cb(log, 'end'));
      gz.destroy();
      await closed;
      await later();
    },
  },
  {
    name: 'write after end',
    cause: (e) => (e as { code?: string }).code === 'ERR_STREAM_WRITE_AFTER_END',
    async run(gz, log) {
      const closed = record(gz, log);
      gz.end(INPUT);
      gz.write(INPUT, cb(log, 'write'));
      gz.resume();
      await closed;
      await later();
    },
  },
  {
    name: 'writing a number throws ERR_INVALID_ARG_TYPE and leaves the stream usable',
    async run(gz, log) {
      const closed = record(gz, log);
      for (const chunk of [42, {}, null]) {
        try {
          gz.write(chunk);
          log.push('no throw');
        } catch (err) {
          log.push(`throw:${(err as { code?: string }).code}`);
        }
      }
      log.push(`destroyed:${gz.destroyed}`);
      gz.end(INPUT);
      gz.resume();
      await closed;
    },
  },
  {
    name: 'pipeline(): source error',
    cause: (e) => (e as Error).message === 'source failed',
    async run(gz, log) {
      const closed = record(gz, log);
      let sent = false;
      const source = new Readable({
        read() {
          if (sent) return void this.destroy(new Error('source failed'));
          sent = true;
          this.push(INPUT);
        },
      });
      const sink = new Writable({ write: (_c, _e, callback) => callback() });
      await new Promise<void>((resolve) => pipeline(source, gz, sink, (err) => {
        log.push(`pipeline:${err?.message}`);
        resolve();
      }));
      await closed;
      await later();
    },
  },
  {
    name: 'pipeline(): consumer error',
    cause: (e) => (e as Error).message === 'sink failed',
    async run(gz, log) {
      const closed = record(gz, log);
      const source = Readable.from([INPUT, INPUT, INPUT]);
      const sink = new Writable({ write: (_c, _e, callback) => callback(new Error('sink failed')) });
      await new Promise<void>((resolve) => pipeline(source, gz, sink, (err) => {
        log.push(`pipeline:${err?.message}`);
        resolve();
      }));
      await closed;
      await later();
    },
  },
  {
    name: 'pipeline(): success, then a late destroy changes nothing',
    async run(gz, log) {
      const closed = record(gz, log);
      const sink = new Writable({ write: (_c, _e, callback) => callback() });
      await new Promise<void>((resolve) => pipeline(Readable.from([INPUT, INPUT]), gz, sink, (err) => {
        log.push(`pipeline:${err?.message}`);
        resolve();
      }));
      await closed;
      gz.destroy(new Error('too late'));
      await later();
      log.push(`destroyed:${gz.destroyed}`);
    },
  },
];

for (const engine of engines) {
  describe(`createGzip() behaves as zlib.createGzip() [${engine.name}]`, () => {
    for (const s of scenarios) {
      it(s.name, async (t) => {
        const zlibLog: Log = [];
        await s.run(zlib.createGzip({ level: 1 }), zlibLog);
        const probe = probeEngine(engine);
        const ourLog: Log = [];
        let gz: LayerTransform;
        try {
          gz = createGzip({ level: 1, engine: engine.name });
          await s.run(gz, ourLog);
        } finally {
          probe?.restore();
        }
        t.diagnostic(`zlib: ${zlibLog.join(', ')}`);
        t.diagnostic(`ours: ${ourLog.join(', ')}`);
        assert.deepEqual(normalise(ourLog), normalise(zlibLog));
        const outcome = await gz.done.then(
          () => undefined,
          (err: unknown) => err,
        );
        if (s.cause) assert.ok(s.cause(outcome), `done: unexpected outcome ${String(outcome)}`);
        else assert.equal(outcome, undefined, `done rejected: ${String(outcome)}`);
        if (probe) assert.ok(probe.destroyed >= 1, 'the engine was not released');
        else t.diagnostic('engine factory is frozen: release not observed');
      });
    }
  });
}
