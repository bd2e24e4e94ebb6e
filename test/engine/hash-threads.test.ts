// Issue 20: with threads > 1 the SHA-256 of the input (with the gzip CRC-32) and the SHA-256 of the
// output run on threads of their own (native/core/hash_stage.h), fed from the units' buffers or from
// copies. The digests, the diffID, the CRC in the gzip trailer and the bytes must be those of threads 1
// for every chunking and flush pattern, and a pipeline dropped with hashes still queued must not hang.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { loadNative, type NativeAddon, type NativePipeline } from '../../src/engine/native.js';

const loaded = loadNative();
const addon = loaded.addon as NativeAddon;
const skip = loaded.addon ? false : `addon did not load: ${loaded.error?.message}`;
const GZIP = 0;
const ZSTD = 2;
const KiB = 1024;

// Text-like bytes with a few incompressible stretches, so units differ in size.
function input(size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    buf[i] = (i >> 16) % 5 === 3 ? s >>> 24 : 97 + ((s >>> 24) % 7);
  }
  return buf;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Feeds `data` in the given call sizes (cycled), flushing after the calls listed in `flushes`.
async function run(p: NativePipeline, data: Buffer, sizes: number[], flushes: Set<number> = new Set()) {
  const parts: Buffer[] = [];
  for (let at = 0, call = 0; at < data.length; call++) {
    const n = sizes[call % sizes.length]!;
    parts.push(await p.update(data.subarray(at, at + n)));
    at += n;
    if (flushes.has(call)) parts.push(await p.flush!());
  }
  const done = await p.finish();
  parts.push(done.out);
  const out = Buffer.concat(parts);
  return { out, done, stats: p.stats!() };
}

describe('hashes on their own threads', { skip }, () => {
  const data = skip ? Buffer.alloc(0) : input(5 * 1024 * KiB + 12345, 7);

  for (const [name, mode, level] of [['gzip 1', GZIP, 1], ['gzip 6', GZIP, 6], ['zstd 3', ZSTD, 3]] as const) {
    it(`${name}: threads 2 and 5 give threads 1's bytes, diffID and digest for odd chunkings and flushes`, async () => {
      const base = await run(new addon.Pipeline(level, mode, 1), data, [1024 * KiB], new Set([2]));
      assert.equal(base.stats.hashThreads ?? false, false, 'threads 1 hashes on the calling thread');
      assert.equal(base.done.diffID.toString('hex'), sha(data));
      assert.equal(base.done.digest.toString('hex'), sha(base.out));
      for (const threads of [2, 5]) {
        for (const sizes of [[1024 * KiB], [1, 300 * KiB, 7, 256 * KiB, 4 * 1024 * KiB], [777 * KiB]]) {
          const r = await run(new addon.Pipeline(level, mode, threads), data, sizes, new Set([2]));
          const what = `threads ${threads}, calls ${sizes.join('/')}`;
          assert.equal(r.stats.hashThreads, true, `${what}: hashes not on their own threads`);
          assert.ok(r.stats.inputHashSeconds > 0 && r.stats.outputHashSeconds > 0, `${what}: no hash time`);
          assert.ok((r.stats.hashWaitSeconds ?? -1) >= 0, what);
          assert.equal(r.done.diffID.toString('hex'), sha(data), `${what}: diffID`);
          assert.equal(r.done.digest.toString('hex'), sha(r.out), `${what}: digest`);
          assert.equal(r.done.size, r.out.length, `${what}: size`);
          if (sizes.length === 1 && sizes[0] === 1024 * KiB) assert.ok(r.out.equals(base.out), `${what}: bytes`);
          // The CRC-32 in the trailer comes from the input hash thread: gunzip checks it.
          if (mode === GZIP) assert.ok(gunzipSync(r.out).equals(data), `${what}: round trip`);
        }
      }
    });
  }

  // The engine picks its file read length by this before its first call (src/engine/native-engine.ts):
  // a pipeline that said false there and then hashed on threads (or the reverse) would be read in the
  // wrong call size for its whole life.
  it('stats().hashThreads is known before any call, and is what the calls then do', async () => {
    const NONE = 1;
    const cases = [
      [GZIP, 1, 1, false], [GZIP, 1, 2, true], [GZIP, 6, 64, true], [GZIP, 0, 1, false], [GZIP, 0, 8, false],
      [NONE, 0, 1, false], [NONE, 0, 8, false], [ZSTD, 3, 1, false], [ZSTD, 3, 2, true],
    ] as const;
    for (const [mode, level, threads, expected] of cases) {
      const what = `mode ${mode}, level ${level}, threads ${threads}`;
      const p = new addon.Pipeline(level, mode, threads);
      assert.equal(p.stats!().hashThreads, expected, `${what}: before any call`);
      const r = await run(p, data.subarray(0, 3 * 1024 * KiB), [1024 * KiB]);
      assert.equal(r.stats.hashThreads, expected, `${what}: after the calls`);
      // Without helpers no pool thread may compress a unit. With them, whether one does depends on
      // the scheduler (the calling thread takes units too, and on a busy machine it may take them
      // all), so only the acceptance test of many threads (thread-counts.test.ts) counts them.
      if (!expected) assert.ok(r.stats.units.slice(1).every((n) => n === 0), `${what}: units on helpers`);
    }
  });

  it('empty input and a flush before any byte: the empty digests, on hash threads', async () => {
    for (const [mode, level] of [[GZIP, 6], [ZSTD, 3]] as const) {
      const one = await run(new addon.Pipeline(level, mode, 1), Buffer.alloc(0), [1], new Set());
      const p = new addon.Pipeline(level, mode, 4);
      const head = await p.flush!();
      const done = await p.finish();
      const out = Buffer.concat([head, done.out]);
      assert.equal(done.diffID.toString('hex'), sha(Buffer.alloc(0)));
      assert.equal(done.digest.toString('hex'), sha(out));
      if (mode === GZIP) assert.ok(gunzipSync(out).length === 0);
      assert.equal(one.done.diffID.toString('hex'), done.diffID.toString('hex'));
    }
  });

  it('hazard: pipelines destroyed or dropped with hashes still queued do not hang or crash', async () => {
    for (let i = 0; i < 20; i++) {
      const p = new addon.Pipeline(1, i % 2 ? ZSTD : GZIP, 3);
      await p.update(data.subarray(0, 3 * 1024 * KiB));
      if (i % 3 === 0) void p.update(data.subarray(0, 2 * 1024 * KiB)).catch(() => {});
      p.destroy();
    }
    // The hash threads of the destroyed pipelines are gone: a new one still works.
    const r = await run(new addon.Pipeline(6, GZIP, 2), data.subarray(0, 600 * KiB), [100 * KiB]);
    assert.equal(r.done.diffID.toString('hex'), sha(data.subarray(0, 600 * KiB)));
  });
});
