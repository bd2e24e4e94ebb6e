#!/usr/bin/env node
// Stress: terminates N worker_threads that stream native layers, at varied moments: before the first
// chunk, while an update() call is in flight, between two calls, while finish() is in flight; with
// threads 1 and 4, several workers at once; some layers are zstd with full frames compressing in the
// background on the pool when the worker dies (they are abandoned, never waited for); some read a file
// on one thread, each readFile() queued behind the one in flight (native/addon/addon_call_order.h), so
// a worker dies with one call running and one waiting for it. The main thread never loads the addon, so every worker
// loads it into a fresh environment and its termination tears that environment down under the
// addon (the case where napi_create_promise fails and node-addon-api used to throw out of a
// Node-API callback: `terminate called after throwing an instance of 'Napi::Error'`, SIGABRT).
//
//   node fuzz/stress-workers.mjs [terminations=1000] [concurrency=4]
//
// Needs `npm run build` (reads dist/). Exits 0 and prints one `STRESS-REPORT {json}` line when every
// worker was terminated without the process crashing; a crash shows as a signal / exit code 134.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const PHASES = ['start', 'update', 'between', 'finish'];
const dist = new URL('../dist/', import.meta.url);

async function workerBody() {
  const { phase, threads, zstd, file } = workerData;
  const { Layer } = await import(new URL('layer/layer.js', dist).href);
  const { availableEngines } = await import(new URL('engine/engines.js', dist).href);
  const factory = availableEngines()[0];
  let told = false;
  const tell = (p) => {
    if (!told && p === phase) {
      told = true;
      parentPort.postMessage(p);
    }
  };
  // Observe the engine calls (the native factory is a plain object: tests wrap it the same way).
  if (Object.getOwnPropertyDescriptor(factory, 'create')?.writable) {
    const create = factory.create;
    factory.create = (options) => {
      const engine = create.call(factory, options);
      return {
        update(input) {
          const p = engine.update(input);
          tell('update');
          p.then(() => tell('between'), () => {});
          return p;
        },
        finish() {
          const p = engine.finish();
          tell('finish');
          return p;
        },
        destroy: () => engine.destroy(),
        // Streams are fed by update(); a file is read by the engine itself, two calls at a time.
        readFile: file
          ? (fd, position, length, continues) => {
              const p = engine.readFile(fd, position, length, continues);
              tell('update');
              p.then(() => tell('between'), () => {});
              return p;
            }
          : undefined,
        readLength: engine.readLength,
        readAhead: engine.readAhead,
      };
    };
  }
  // zstd: 17 MiB, two full 8 MiB frames handed to the pool before the end of the input.
  const chunk = new Uint8Array(zstd ? 1024 * 1024 : 64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + (i >> 7)) & 0x3f;
  const chunks = zstd ? 17 : 24;
  async function* source() {
    tell('start');
    for (let i = 0; i < chunks; i++) yield chunk;
  }
  const options = zstd ? { compression: 'zstd', compressionLevel: 1 } : { compressionLevel: 1 };
  for (;;) {
    if (file) tell('start');
    const layer = file
      ? Layer.fromFile(file, { engine: factory.name, compressionLevel: 1, threads })
      : new Layer(source(), { engine: factory.name, ...options, threads });
    for await (const _ of layer.compressed()) void _;
    await layer.done;
    // A slower phase never came (js engine, unobservable factory): say so anyway, once.
    tell(phase);
  }
}

async function main() {
  const total = Number(process.argv[2] ?? 1000);
  const concurrency = Number(process.argv[3] ?? 4);
  if (!Number.isSafeInteger(total) || total < 1 || !Number.isSafeInteger(concurrency) || concurrency < 1) {
    console.error('usage: node fuzz/stress-workers.mjs [terminations >= 1] [concurrency >= 1]');
    process.exit(2);
  }
  const self = new URL(import.meta.url);
  const byPhase = Object.fromEntries(PHASES.map((p) => [p, 0]));
  let zstdWorkers = 0;
  let fileWorkers = 0;
  // 12 MiB: three 4 MiB reads on one thread, each next one queued behind the one in flight.
  const dir = mkdtempSync(join(tmpdir(), 'fastlayer-stress-'));
  const file = join(dir, 'input');
  const bytes = Buffer.alloc(12 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 7)) & 0x3f;
  writeFileSync(file, bytes);
  const failures = [];
  let started = 0;
  let terminated = 0;
  const one = async () => {
    const i = started++;
    const phase = PHASES[i % PHASES.length];
    const threads = (i >> 2) % 2 === 0 ? 1 : 4;
    const zstd = threads === 4 && (i >> 3) % 2 === 1;
    const fromFile = threads === 1 && (i >> 3) % 2 === 1;
    // 0: at once; 1: after a turn of the loop; 2+: a few ms later (into the next call or the teardown).
    const wait = i % 5;
    const w = new Worker(self, { workerData: { phase, threads, zstd, file: fromFile ? file : undefined } });
    await new Promise((resolve) => {
      w.once('message', resolve);
      w.once('error', (err) => {
        failures.push(`${phase}: ${err?.stack ?? err}`);
        resolve();
      });
      w.once('exit', resolve);
    });
    if (wait === 1) await new Promise((r) => setImmediate(r));
    else if (wait > 1) await new Promise((r) => setTimeout(r, wait - 1));
    await w.terminate();
    byPhase[phase]++;
    if (zstd) zstdWorkers++;
    if (fromFile) fileWorkers++;
    terminated++;
  };
  const lanes = Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (started < total) await one();
  });
  await Promise.all(lanes);
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`STRESS-REPORT ${JSON.stringify({ terminated, byPhase, zstdWorkers, fileWorkers, failures: failures.slice(0, 5) })}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

if (isMainThread) await main();
else await workerBody();
