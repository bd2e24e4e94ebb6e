// Hazard: layers inside worker_threads that are terminated mid-stream, and processes that exit
// (process.exit, uncaught exception) while native calls are in flight. Each scenario runs in a
// child process, so a crash shows up as a signal instead of killing the test runner. The layers use 4
// threads, so the native pool's helper threads are busy at those moments too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { availableEngines } from '../../src/engine/engines.js';
import { Layer } from '../../src/layer/layer.js';
import { assertChildOk, childScenario, MiB, probeEngine, report, runChild, text } from '../helpers/hazard.js';

const native = availableEngines().find((e) => e.name === 'native');
const engineName = native ? 'native' : 'js';

/** Streams `input` through a layer and returns its values (consuming as fast as possible). */
async function compress(input: Uint8Array, level: number) {
  const layer = new Layer(input, { engine: engineName, compressionLevel: level, threads: 4 });
  for await (const _ of layer.compressed()) void _;
  return layer.done;
}

/** Starts `count` slow layers (level 9, 8 MiB of text each) and resolves once `want` calls are in flight. */
function startBusyLayers(count: number, want: number): Promise<void> {
  const factory = availableEngines().find((e) => e.name === engineName)!;
  const probe = probeEngine(factory);
  const input = text(8 * MiB, 7);
  for (let i = 0; i < count; i++) {
    const layer = new Layer(input, { engine: engineName, compressionLevel: 9, threads: 4 });
    layer.compressed().on('data', () => {});
  }
  return new Promise((resolve) => {
    if (!probe) return void setTimeout(resolve, 30); // frozen factory: the calls start within a few ms
    const check = () => (probe.inFlight >= want ? resolve() : setTimeout(check, 1));
    check();
  });
}

// ---- code that runs inside the worker threads ----
async function workerBody(): Promise<void> {
  const { delayMs } = workerData as { delayMs: number };
  // Tell the parent once a call of this thread's engine is in flight, then keep going until
  // terminated.
  const probe = probeEngine(availableEngines().find((e) => e.name === engineName)!);
  const signal = () => (!probe || probe.inFlight > 0 ? parentPort!.postMessage('busy') : setTimeout(signal, 1));
  setTimeout(signal, delayMs);
  for (;;) await compress(text(4 * MiB, 3), 9);
}

// ---- scenarios run in child processes ----
const scenarios: Record<string, () => Promise<void>> = {
  async 'terminate workers mid-stream'() {
    const url = new URL(import.meta.url);
    let terminated = 0;
    for (let round = 0; round < 6; round++) {
      // Several workers at once: each loads the addon into its own environment.
      const workers = [0, 1, 2].map(
        (i) => new Worker(url, { workerData: { role: 'busy-worker', delayMs: 5 + 17 * ((round + i) % 4) } }),
      );
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              w.once('error', reject);
              w.once('message', () => resolve());
            }),
        ),
      );
      const codes = await Promise.all(workers.map((w) => w.terminate()));
      terminated += codes.length;
    }
    // The addon in the main thread still works after its copies in the workers were torn down.
    const input = text(3 * MiB, 5);
    const values = await compress(input, 1);
    const ok = values.diffID.hex === createHash('sha256').update(input).digest('hex');
    report({ terminated, ok });
  },

  async 'process.exit while calls are in flight'() {
    await startBusyLayers(8, 4);
    report({ exiting: true });
    process.exit(0);
  },

  async 'uncaught exception while calls are in flight'() {
    await startBusyLayers(8, 4);
    report({ throwing: true });
    setImmediate(() => {
      throw new Error('deliberate uncaught exception');
    });
  },

  async 'worker exits by itself while calls are in flight'() {
    const w = new Worker(new URL(import.meta.url), { workerData: { role: 'exit-worker' } });
    const code = await new Promise<number>((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', resolve);
    });
    const values = await compress(text(MiB), 6);
    report({ code, ok: values.size > 0 });
  },
};

/**
 * Runs fuzz/stress-workers.mjs (terminations at every phase, threads 1 and 4) in a child process:
 * an abort there shows as a signal here. CI runs the same script with 1,000 terminations.
 */
function stressWorkers(terminations: number): Promise<{ code: number | null; signal: string | null; out: string; err: string }> {
  const script = fileURLToPath(new URL('../../../fuzz/stress-workers.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, String(terminations), '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 400_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

const CRASH = /Segmentation|Aborted|FATAL ERROR|Assertion|double free|corrupted|munmap_chunk/;

if (!isMainThread) {
  const role = (workerData as { role: string }).role;
  if (role === 'busy-worker') await workerBody();
  else if (role === 'exit-worker') {
    await startBusyLayers(4, 2);
    process.exit(3); // in a worker: ends this thread only, with exit code 3
  }
} else if (childScenario()) {
  await scenarios[childScenario()!]!();
} else {
  describe('hazard: worker threads and process exit with calls in flight', () => {
    test('worker_threads with layers in flight are terminated (3 at a time, 6 rounds)', async () => {
      const r = await runChild(import.meta.url, 'terminate workers mid-stream', { timeoutMs: 120_000 });
      assertChildOk(r, 'terminate workers');
      assert.equal(r.report.terminated, 18);
      assert.ok(r.report.ok, 'the main thread computed a wrong diffID afterwards');
      assert.doesNotMatch(r.stderr, CRASH);
    });

    // Before the fix, about 1 termination in 100 aborted the process: `terminate called after
    // throwing an instance of 'Napi::Error'` (napi_create_promise fails in a dying environment and
    // node-addon-api threw out of the Node-API callback). Every run of 300 aborted on that build.
    test('hazard: 240 worker terminations at every phase (before the first chunk, in a call, between calls, in finish; threads 1 and 4) never abort the process', async () => {
      const r = await stressWorkers(240);
      const details = `\n--- stdout ---\n${r.out.slice(-2000)}\n--- stderr ---\n${r.err.slice(-4000)}`;
      assert.equal(r.signal, null, `the process died of ${r.signal}${details}`);
      assert.equal(r.code, 0, `exit code ${r.code}${details}`);
      assert.doesNotMatch(r.err, /terminate called|Napi::Error/);
      const line = r.out.split('\n').find((l) => l.startsWith('STRESS-REPORT '));
      assert.ok(line, `no report${details}`);
      const report = JSON.parse(line.slice('STRESS-REPORT '.length));
      assert.equal(report.terminated, 240);
      assert.deepEqual(report.byPhase, { start: 60, update: 60, between: 60, finish: 60 });
      // A quarter read a file on one thread: a readFile() running and one queued behind it.
      assert.equal(report.fileWorkers, 60);
      assert.deepEqual(report.failures, []);
    });

    test('process.exit(0) while calls are in flight exits cleanly with code 0', async () => {
      const r = await runChild(import.meta.url, 'process.exit while calls are in flight');
      assertChildOk(r, 'process.exit');
      assert.doesNotMatch(r.stderr, CRASH);
    });

    test('an uncaught exception while calls are in flight exits with code 1 and the error, not a crash', async () => {
      let r = await runChild(import.meta.url, 'uncaught exception while calls are in flight');
      // Node 26 itself hangs now and then in this exit (about 1 in 30, at the commit before queued
      // reads too): the main thread joins a V8 platform worker that waits on its condition variable
      // (gdb: pthread_join of node-V8Worker, that thread in absl::CondVar::WaitCommon). One more try
      // tells that apart from a hang of ours, which would come again.
      if (r.timedOut) r = await runChild(import.meta.url, 'uncaught exception while calls are in flight');
      assert.ok(!r.timedOut, 'child hung twice');
      assert.equal(r.signal, null, `child died of ${r.signal}: ${r.stderr}`);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /deliberate uncaught exception/);
      assert.doesNotMatch(r.stderr, CRASH);
    });

    test('process.exit() inside a worker with calls in flight ends only that worker', async () => {
      const r = await runChild(import.meta.url, 'worker exits by itself while calls are in flight');
      assertChildOk(r, 'worker exit');
      assert.equal(r.report.code, 3);
      assert.ok(r.report.ok);
      assert.doesNotMatch(r.stderr, CRASH);
    });
  });
}
