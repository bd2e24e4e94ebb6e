// Shared pieces of the hazard tests (test/hazard/*.test.ts and others): scenarios in child processes, an
// engine probe that tells when a call is in flight, and memory readings.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Engine, EngineFactory } from '../../src/engine/engine.js';
import { ErrNotComputed } from '../../src/core/errors.js';
import type { Layer } from '../../src/layer/layer.js';
import { generate } from '../vectors/generator.js';

const CHILD_ENV = 'FASTLAYER_HAZARD_CHILD';

/** The scenario this process was started for by runChild(), if any. */
export function childScenario(): string | undefined {
  return process.env[CHILD_ENV];
}

/** A child prints one report line; the parent parses it. */
export function report(data: unknown): void {
  process.stdout.write(`HAZARD-REPORT ${JSON.stringify(data)}\n`);
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The parsed HAZARD-REPORT line, or undefined when the child printed none. */
  report: any;
  timedOut: boolean;
  ms: number;
}

/**
 * Runs `scenario` of the test module `moduleUrl` (import.meta.url) in a fresh node process: a crash,
 * an abort or a hang there cannot take the test runner down, and shows up as a signal or timeout.
 */
export function runChild(
  moduleUrl: string,
  scenario: string,
  options: { execArgv?: string[]; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<ChildResult> {
  const env: Record<string, string | undefined> = { ...process.env, [CHILD_ENV]: scenario, ...options.env };
  delete env.NODE_TEST_CONTEXT; // the child is a plain script, not a test file
  const started = Date.now();
  const child = spawn(process.execPath, [...(options.execArgv ?? []), fileURLToPath(moduleUrl)], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('HAZARD-REPORT '));
      resolve({
        code,
        signal,
        stdout,
        stderr,
        report: line ? JSON.parse(line.slice('HAZARD-REPORT '.length)) : undefined,
        timedOut,
        ms: Date.now() - started,
      });
    });
  });
}

/** Fails with the child's output unless it exited 0 on its own with a report. */
export function assertChildOk(r: ChildResult, what: string): void {
  const details = `\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
  assert.ok(!r.timedOut, `${what}: child hung (killed after ${r.ms} ms)${details}`);
  assert.equal(r.signal, null, `${what}: child died of ${r.signal}${details}`);
  assert.equal(r.code, 0, `${what}: child exited with ${r.code}${details}`);
  assert.ok(r.report !== undefined, `${what}: child printed no report${details}`);
}

export type Op = 'update' | 'finish';

/** Calls and destroys seen on one factory's engines while instrumented. */
export interface EngineProbe {
  inFlight: number;
  started: Op[];
  destroyed: number;
  /** Called synchronously right after an engine call was issued (it is then queued or running). */
  onStart: ((op: Op) => void) | undefined;
  restore(): void;
}

/**
 * Wraps `factory.create` so tests know when an engine call is in flight. Behaviour is unchanged:
 * every call and destroy() is forwarded as is. Undefined when the factory is frozen (the js engine).
 */
export function probeEngine(factory: EngineFactory): EngineProbe | undefined {
  if (Object.isFrozen(factory) || !Object.getOwnPropertyDescriptor(factory, 'create')?.writable) return undefined;
  const original = factory.create;
  const probe: EngineProbe = {
    inFlight: 0,
    started: [],
    destroyed: 0,
    onStart: undefined,
    restore: () => {
      (factory as { create: EngineFactory['create'] }).create = original;
    },
  };
  const track = <T>(op: Op, call: () => Promise<T>): Promise<T> => {
    probe.inFlight++;
    probe.started.push(op);
    const p = call();
    probe.onStart?.(op);
    const done = () => {
      probe.inFlight--;
    };
    p.then(done, done);
    return p;
  };
  (factory as { create: EngineFactory['create'] }).create = (options) => {
    const engine: Engine = original.call(factory, options);
    return {
      update: (input) => track('update', () => engine.update(input)),
      finish: () => track('finish', () => engine.finish()),
      destroy: () => {
        probe.destroyed++;
        engine.destroy();
      },
    };
  };
  return probe;
}

/** A layer that failed must keep its values not computed and reject `done` with the cause. */
export async function assertFailed(layer: Layer, cause: unknown | ((err: unknown) => boolean)): Promise<void> {
  const reason = await layer.done.then(
    () => assert.fail('done resolved although the layer failed'),
    (err: unknown) => err,
  );
  if (typeof cause === 'function') assert.ok((cause as (e: unknown) => boolean)(reason), `unexpected cause: ${String(reason)}`);
  else assert.equal(reason, cause, 'done rejected with another value than the cause');
  for (const get of [() => layer.digest(), () => layer.diffID(), () => layer.size()]) {
    assert.throws(get, (err: unknown) => err instanceof ErrNotComputed && err.code === 'ERR_LAYER_NOT_COMPUTED');
  }
}

/** Resolves on the next turn of the event loop after pending I/O callbacks. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Compressible text of `n` bytes (the vector generator, so it is the same on every run). */
export function text(n: number, seed = 1): Uint8Array {
  return generate('text', seed, n);
}

export function noise(n: number, seed = 1): Uint8Array {
  return generate('random', seed, n);
}

export const MiB = 1024 * 1024;

export function rssMiB(): number {
  return process.memoryUsage.rss() / MiB;
}

/** Several full collections with turns of the event loop between them, so finalizers run. */
export async function gcHard(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await tick();
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Waits until no probed engine call is in flight (200 ms without a probe), then a turn of the event
 * loop: a destroyed layer ignores the late result of its call, and that completion (a crash or an
 * unhandled rejection there) must happen inside the test that caused it.
 */
export async function settleCalls(probe: EngineProbe | undefined, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  if (!probe) await new Promise((r) => setTimeout(r, 200));
  while (probe && probe.inFlight > 0) {
    assert.ok(Date.now() < deadline, 'an engine call never settled');
    await new Promise((r) => setTimeout(r, 5));
  }
  await tick();
}
