// The process-wide cap on native calls in flight (src/engine/limiter.ts): FIFO order, the cap itself, slots
// released by every way a call can end, and a destroy() that overtakes a queued engine call.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Limiter, nativeCallLimit, threadpoolSize } from '../../src/engine/limiter.js';
import { nativeCallStats, nativeEngine } from '../../src/engine/native-engine.js';
import { semiCompressible } from '../helpers/data.js';
import { deferred, tick } from '../helpers/hazard.js';


describe('limiter: pool size and limit', () => {
  it('reads UV_THREADPOOL_SIZE like libuv: atoi() into an unsigned int, 0 -> 1, above 1024 -> 1024', () => {
    assert.equal(threadpoolSize({}), 4);
    // Before: Number() and a fallback to 4, so '0', '' and 'abc' promised 4 threads where libuv
    // runs 1, and '8abc' 4 where libuv runs 8.
    const cases: [string, number][] = [
      ['0', 1], ['', 1], ['abc', 1], ['many', 1], ['  8', 8], ['\t\n8', 8], ['8abc', 8], ['+5', 5], ['2.7', 2],
      ['16', 16], ['-3', 1024], ['-0', 1], ['2000', 1024], ['1024', 1024], ['1025', 1024],
      ['4294967297', 1], ['99999999999', 1024], ['99999999999999999999999', 1024],
    ];
    for (const [value, want] of cases) assert.equal(threadpoolSize({ UV_THREADPOOL_SIZE: value }), want, JSON.stringify(value));
  });

  it('agrees with the threads libuv really starts', { skip: !existsSync('/proc/self/task') && 'needs /proc/self/task (Linux)' }, () => {
    // Threads of a fresh node before and after its first fs request, which starts the pool.
    const probe = 'const fs=require("fs");const n=()=>fs.readdirSync("/proc/self/task").length;const a=n();fs.stat(".",()=>process.stdout.write(String(n()-a)))';
    for (const value of ['0', 'abc', '  8', '8abc', '-3', '2000', '']) {
      const started = Number(execFileSync(process.execPath, ['-e', probe], { env: { ...process.env, UV_THREADPOOL_SIZE: value }, encoding: 'utf8' }));
      assert.equal(threadpoolSize({ UV_THREADPOOL_SIZE: value }), started, `UV_THREADPOOL_SIZE=${JSON.stringify(value)}`);
    }
  });

  it('leaves one thread free, and allows one call with a pool of one or two', () => {
    assert.equal(nativeCallLimit({}), 3);
    assert.equal(nativeCallLimit({ UV_THREADPOOL_SIZE: '1' }), 1);
    assert.equal(nativeCallLimit({ UV_THREADPOOL_SIZE: '2' }), 1);
    assert.equal(nativeCallLimit({ UV_THREADPOOL_SIZE: '64' }), 63);
  });

  it('refuses a capacity below one', () => {
    assert.throws(() => new Limiter(0), RangeError);
    assert.throws(() => new Limiter(1.5), RangeError);
  });
});

describe('limiter: queueing', () => {
  it('runs at most `capacity` calls at once, in FIFO order', async () => {
    const limiter = new Limiter(2);
    const gates = Array.from({ length: 5 }, () => deferred<number>());
    const started: number[] = [];
    const tickets = gates.map((g, i) =>
      limiter.run(() => {
        started.push(i);
        return g.promise;
      }),
    );
    assert.deepEqual(started, [0, 1]);
    assert.deepEqual(limiter.stats, { running: 2, queued: 3 });
    gates[1]!.resolve(1);
    assert.equal(await tickets[1]!.result, 1);
    await tick();
    assert.deepEqual(started, [0, 1, 2]);
    gates[0]!.resolve(0);
    gates[2]!.resolve(2);
    await Promise.all([tickets[0]!.result, tickets[2]!.result]);
    await tick();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    gates[3]!.resolve(3);
    gates[4]!.resolve(4);
    assert.deepEqual(await Promise.all(tickets.map((t) => t.result)), [0, 1, 2, 3, 4]);
    assert.deepEqual(limiter.stats, { running: 0, queued: 0 });
  });

  it('room is the free slots, and none while calls wait', async () => {
    const limiter = new Limiter(3);
    assert.equal(limiter.room, 3);
    const gates = Array.from({ length: 4 }, () => deferred());
    const tickets = gates.map((g) => limiter.run(() => g.promise));
    assert.deepEqual([limiter.room, limiter.stats.queued], [0, 1]);
    gates[0]!.resolve();
    await tickets[0]!.result;
    await tick();
    // The queued call took the freed slot.
    assert.deepEqual([limiter.room, limiter.stats.queued], [0, 0]);
    gates[1]!.resolve();
    await tickets[1]!.result;
    assert.equal(limiter.room, 1);
    for (const g of gates) g.resolve();
    await Promise.all(tickets.map((t) => t.result));
    assert.equal(limiter.room, 3);
  });

  it('a call that rejects or throws releases its slot and passes its error on', async () => {
    const limiter = new Limiter(1);
    const boom = new Error('boom');
    const rejected = limiter.run(() => Promise.reject(boom));
    const thrown = limiter.run(() => {
      throw boom;
    });
    const after = limiter.run(async () => 'ran');
    await assert.rejects(rejected.result, (e) => e === boom);
    await assert.rejects(thrown.result, (e) => e === boom);
    assert.equal(await after.result, 'ran');
    assert.deepEqual(limiter.stats, { running: 0, queued: 0 });
  });

  it('cancel() drops a queued call without running it and leaks no slot; a running call runs on', async () => {
    const limiter = new Limiter(1);
    const g = deferred();
    const running = limiter.run(() => g.promise);
    let ran = false;
    const queued = limiter.run(async () => {
      ran = true;
    });
    const reason = new Error('destroyed');
    assert.equal(running.cancel(reason), false);
    assert.equal(queued.cancel(reason), true);
    assert.equal(queued.cancel(reason), false);
    await assert.rejects(queued.result, (e) => e === reason);
    assert.deepEqual(limiter.stats, { running: 1, queued: 0 });
    g.resolve();
    await running.result;
    assert.equal(ran, false);
    assert.deepEqual(limiter.stats, { running: 0, queued: 0 });
    assert.equal(await limiter.run(async () => 7).result, 7);
  });
});

describe('native engine: calls share the process-wide limiter', { skip: !nativeEngine }, () => {
  it('a destroy() overtaking a queued call rejects it with ERR_FASTLAYER_DESTROYED and frees nothing twice', async () => {
    const { capacity } = nativeCallStats();
    const input = semiCompressible(4 * 1024 * 1024, 3);
    const busy = Array.from({ length: capacity }, () => nativeEngine!.create({ level: 9, compression: 'gzip' }));
    const busyCalls = busy.map((e) => e.update(input));
    const victim = nativeEngine!.create({ level: 1, compression: 'gzip' });
    const queued = victim.update(input);
    const stats = nativeCallStats();
    assert.equal(stats.running, capacity);
    assert.equal(stats.queued, 1);
    victim.destroy();
    await assert.rejects(queued, (e: unknown) => (e as { code?: string }).code === 'ERR_FASTLAYER_DESTROYED');
    assert.equal(nativeCallStats().queued, 0);
    await Promise.all(busyCalls);
    await Promise.all(busy.map((e) => e.finish()));
    assert.deepEqual(nativeCallStats(), { capacity, running: 0, queued: 0 });
    // The slots are all back: a fresh engine runs to the end.
    const after = nativeEngine!.create({ level: 1, compression: 'gzip' });
    await after.update(input);
    assert.equal((await after.finish()).size > 0, true);
  });

  it('a one-thread engine reads ahead only while two slots are free: a queued read would hold one idle', async () => {
    const { capacity } = nativeCallStats();
    const one = nativeEngine!.create({ level: 1, compression: 'gzip', threads: 1 });
    const two = nativeEngine!.create({ level: 1, compression: 'gzip', threads: 2 });
    assert.equal(two.readAhead, false, 'helpers: never');
    assert.equal(one.readAhead, capacity >= 2);
    // Other layers' calls hold all slots but one, then all, then wait.
    const input = semiCompressible(4 * 1024 * 1024, 5);
    const busy = Array.from({ length: capacity + 1 }, () => nativeEngine!.create({ level: 9, compression: 'gzip' }));
    const calls: Promise<unknown>[] = [];
    for (const [i, e] of busy.entries()) {
      calls.push(e.update(input));
      const free = capacity - Math.min(i + 1, capacity);
      assert.equal(one.readAhead, free >= 2 && i + 1 <= capacity, `${i + 1} calls made, ${free} slots free`);
    }
    await Promise.all(calls);
    await Promise.all(busy.map((e) => e.finish()));
    assert.equal(one.readAhead, capacity >= 2, 'all slots free again');
    one.destroy();
    two.destroy();
  });

  it('calls beyond the limit wait and then complete with the same values as alone', async () => {
    const { capacity } = nativeCallStats();
    const input = semiCompressible(1024 * 1024, 4);
    const alone = nativeEngine!.create({ level: 6, compression: 'gzip' });
    await alone.update(input);
    const want = await alone.finish();
    const many = Array.from({ length: capacity * 3 }, async () => {
      const e = nativeEngine!.create({ level: 6, compression: 'gzip' });
      await e.update(input);
      return e.finish();
    });
    assert.deepEqual(nativeCallStats(), { capacity, running: capacity, queued: capacity * 2 });
    for (const r of await Promise.all(many)) assert.equal(r.digest, want.digest);
    assert.deepEqual(nativeCallStats(), { capacity, running: 0, queued: 0 });
  });
});
