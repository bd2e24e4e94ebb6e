// Several directory layers compressed at once under the process's thread budget (src/engine/budget.ts,
// src/image/spool.ts): the layers really overlap in archives, layouts and registry pushes, the budget
// is never exceeded, the bytes are those of one layer at a time, and a failing layer leaves nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, type BuildSpec } from '../../src/build/build.js';
import { budgetCapacity, setThreadBudget, threadBudget, ThreadBudget } from '../../src/engine/budget.js';
import { RegistryDestination } from '../../src/registry/destination.js';
import { manyFiles, tempDir } from '../helpers/tree.js';
import { registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('ThreadBudget', () => {
  it('grants what is free (at least one thread), queues when none is, first come first served', async () => {
    const b = new ThreadBudget(4);
    const a = await b.acquire(3);
    assert.equal(a.threads, 3);
    const c = await b.acquire(3);
    assert.equal(c.threads, 1, 'fewer threads rather than waiting');
    assert.deepEqual([b.stats.inUse, b.stats.holders], [4, 2]);
    const order: string[] = [];
    const d = b.acquire(2).then((g) => (order.push('d'), g));
    const e = b.acquire(1).then((g) => (order.push('e'), g));
    await new Promise((r) => setImmediate(r));
    assert.equal(b.stats.waiting, 2);
    c.release();
    c.release(); // idempotent
    const gd = await d;
    assert.equal(gd.threads, 1, 'one thread was free');
    a.release();
    const ge = await e;
    assert.deepEqual(order, ['d', 'e']);
    assert.equal(ge.threads, 1);
    assert.ok(b.stats.peakInUse <= 4);
    gd.release();
    ge.release();
    assert.deepEqual([b.stats.inUse, b.stats.holders, b.stats.waiting], [0, 0, 0]);
  });

  it('a waiting layer whose signal aborts leaves the queue', async () => {
    const b = new ThreadBudget(1);
    const g = await b.acquire(1);
    const ac = new AbortController();
    const waiting = b.acquire(1, ac.signal);
    ac.abort(new Error('stop'));
    await assert.rejects(waiting, /stop/);
    assert.equal(b.stats.waiting, 0);
    g.release();
    assert.equal(b.stats.inUse, 0);
  });

  it('is sized by FASTLAYER_THREADS (1 to 64), else the cores capped at 64', () => {
    assert.equal(budgetCapacity({ FASTLAYER_THREADS: '7' }), 7);
    assert.ok(budgetCapacity({}) >= 1 && budgetCapacity({}) <= 64);
    for (const bad of ['0', '65', 'x', '-1']) assert.throws(() => budgetCapacity({ FASTLAYER_THREADS: bad }), { code: 'ERR_OPTION_OUT_OF_RANGE' });
  });
});

describe('buildImage: directory layers at once', () => {
  const tmp = tempDir('fastlayer-lanes-');
  const spoolRoot = join(tmp.path, 'tmp');
  const dirs = [0, 1, 2].map((i) => join(tmp.path, `layer${i}`));
  let savedTmp: string | undefined;
  let saved: ThreadBudget;
  let registry: RunningRegistry | undefined;

  before(async () => {
    mkdirSync(spoolRoot);
    for (const [i, d] of dirs.entries()) {
      manyFiles(d, 300);
      // Half compressible, so each layer takes the engine a while.
      writeFileSync(join(d, 'big.bin'), Buffer.concat([randomBytes(1_500_000), Buffer.alloc(1_500_000, i)]));
    }
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = spoolRoot; // spool files go here: the tests see what is left
    saved = threadBudget();
    if (!registryMissing()) registry = await startRegistry();
  });
  after(async () => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    setThreadBudget(saved);
    await registry?.stop();
    tmp.remove();
  });

  const spec = (out: Partial<BuildSpec>, layers: readonly string[] = dirs): BuildSpec => ({
    layers, tags: ['lanes:1'], layerOptions: { threads: 2 }, ...out,
  });

  /** Runs `build` under a fresh budget of `capacity` threads; returns the budget's counters after it. */
  async function under<T>(capacity: number, build: () => Promise<T>): Promise<{ result: T; stats: ThreadBudget['stats'] }> {
    const budget = new ThreadBudget(capacity);
    setThreadBudget(budget);
    try {
      const result = await build();
      return { result, stats: budget.stats };
    } finally {
      setThreadBudget(saved);
    }
  }

  it('an archive: layers overlap, within the budget, and the archive is byte for byte the one-at-a-time one', async () => {
    const one = join(tmp.path, 'one.tar');
    const many = join(tmp.path, 'many.tar');
    const seq = await under(1, () => buildImage(spec({ output: one })));
    assert.equal(seq.stats.peakHolders, 1, 'a budget of one thread: one layer at a time');
    const par = await under(4, () => buildImage(spec({ output: many })));
    assert.ok(par.stats.peakHolders >= 2, `layers compressed at once: ${JSON.stringify(par.stats)}`);
    assert.ok(par.stats.peakInUse <= 4, 'never more threads than the budget');
    assert.equal(par.stats.inUse, 0, 'every thread given back');
    assert.equal(sha(readFileSync(many)), sha(readFileSync(one)), 'the same archive bytes');
    assert.equal(par.result.digest, seq.result.digest);
    assert.deepEqual(readdirSync(spoolRoot).filter((n) => n.startsWith('fastlayer-spool-')), [], 'no spool file or directory left');
  });

  it('an OCI layout: layers overlap within the budget, same digests as one at a time', async () => {
    const seq = await under(1, () => buildImage(spec({ ociDir: join(tmp.path, 'one-layout') })));
    const par = await under(3, () => buildImage(spec({ ociDir: join(tmp.path, 'many-layout') })));
    assert.equal(seq.stats.peakHolders, 1);
    assert.ok(par.stats.peakHolders >= 2, JSON.stringify(par.stats));
    assert.ok(par.stats.peakInUse <= 3);
    assert.deepEqual(par.result.images, seq.result.images);
    assert.equal(par.result.digest, seq.result.digest);
  });

  it('a registry push: layers overlap within the budget, same digests as one at a time', async (t) => {
    if (!registry) return t.skip(registryMissing());
    const to = (tag: string) => new RegistryDestination(`${registry!.host}/lanes/app:${tag}`);
    const seq = await under(1, () => buildImage(spec({ destination: to('one'), tags: [] })));
    const par = await under(2, () => buildImage(spec({ destination: to('many'), tags: [] })));
    assert.equal(seq.stats.peakHolders, 1);
    assert.ok(par.stats.peakHolders >= 2, JSON.stringify(par.stats));
    assert.ok(par.stats.peakInUse <= 2);
    assert.equal(par.result.digest, seq.result.digest);
  });

  it('a failing layer aborts the others with its coded error and leaves no archive, layout or spool file', async () => {
    const layers = [...dirs, join(tmp.path, 'missing')];
    const output = join(tmp.path, 'failed.tar');
    await under(4, async () => {
      await assert.rejects(buildImage(spec({ output }, layers)), { code: 'ERR_TAR_SOURCE' });
      assert.equal(threadBudget().stats.inUse, 0, 'every thread given back');
    });
    assert.equal(existsSync(output), false);
    assert.deepEqual(readdirSync(tmp.path).filter((n) => n.startsWith('.failed.tar') || n.includes('fastlayer-')), [], 'no temp archive');
    assert.deepEqual(readdirSync(spoolRoot).filter((n) => n.startsWith('fastlayer-spool-')), [], 'no spool file or directory left');
    const ociDir = join(tmp.path, 'failed-layout');
    await under(4, () => assert.rejects(buildImage(spec({ ociDir }, layers)), { code: 'ERR_TAR_SOURCE' }));
    assert.equal(existsSync(ociDir), false, 'the layout this build created is removed');
  });
});
