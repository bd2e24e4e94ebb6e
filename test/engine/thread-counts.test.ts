// Issue 20's acceptance: a layer with threads 16 really spreads its units over many threads (the
// engine's per-thread counts, native/core/engine_stats.h), threads 1 keeps them on one, and the bytes are
// the same. Before the window of units that spans calls (native/core/unit_window.h), each 1 MiB call
// fork-joined its own 4 units, so at most 4 threads ever compressed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadNative, type NativeAddon, type NativeStats } from '../../src/engine/native.js';

const loaded = loadNative();
const addon = loaded.addon as NativeAddon;
const skip = loaded.addon ? false : `addon did not load: ${loaded.error?.message}`;
const GZIP = 0;
const ZSTD = 2;
const MiB = 1024 * 1024;

// 64 MiB that compresses like text (about 50%): random words from a small vocabulary.
function input(): Buffer {
  const words = ['layer', 'image', 'tar', 'digest', 'lib', 'usr', 'share', 'x86_64', 'so.1', '\n', ' '];
  const buf = Buffer.alloc(64 * MiB);
  let seed = 12345;
  let at = 0;
  while (at < buf.length) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const w = words[seed % words.length]!;
    at += buf.write(w + String.fromCharCode(97 + (seed >>> 24) % 26), at);
  }
  return buf;
}

async function run(data: Buffer, level: number, mode: number, threads: number): Promise<{ digest: string; stats: NativeStats }> {
  const p = new addon.Pipeline(level, mode, threads);
  assert.equal(typeof p.stats, 'function', 'the addon has no stats()');
  const hash = createHash('sha256');
  // 1 MiB calls, as a file stream makes them.
  for (let at = 0; at < data.length; at += MiB) hash.update(await p.update(data.subarray(at, at + MiB)));
  const done = await p.finish();
  hash.update(done.out);
  const digest = hash.digest('hex');
  assert.equal(digest, done.digest.toString('hex'));
  return { digest, stats: p.stats!() };
}

const distinct = (s: NativeStats) => s.units.filter((n) => n > 0).length;

describe('engine per-thread work counts', { skip }, () => {
  const data = skip ? Buffer.alloc(0) : input();

  it('gzip level 6: threads 16 compresses on at least 12 threads, threads 1 on one, same bytes', async () => {
    const one = await run(data, 6, GZIP, 1);
    assert.equal(distinct(one.stats), 1, `threads 1: ${one.stats.units.join(',')}`);
    assert.equal(one.stats.units[0], 257, 'threads 1: every unit on the calling thread');
    const many = await run(data, 6, GZIP, 16);
    assert.equal(many.digest, one.digest, 'threads 16 changed the bytes');
    assert.equal(many.stats.units.reduce((a, b) => a + b, 0), 257);
    assert.ok(distinct(many.stats) >= 12, `threads 16: only ${distinct(many.stats)} threads: ${many.stats.units.join(',')}`);
    // The layer's limit: threads - 1 pool threads plus its calling thread.
    assert.ok(distinct(many.stats) <= 16);
    for (const s of [one.stats, many.stats]) {
      assert.ok(s.compressSeconds > 0 && s.inputHashSeconds > 0 && s.outputHashSeconds > 0 && s.waitSeconds >= 0);
    }
  });

  // 64 MiB is 8 zstd frames (8 MiB each, format version 1): at most 8 threads can take one. All 8
  // are in flight at once (the window holds up to 16 frames), so each waits for a pool thread only
  // while the others wake; 5 leaves room for a loaded 2-vCPU machine where a woken thread finishes
  // its frame and takes another before a sleeping one runs.
  it('zstd level 3: threads 16 compresses frames on at least 5 threads, threads 1 on one, same bytes', async () => {
    const one = await run(data, 3, ZSTD, 1);
    assert.equal(distinct(one.stats), 1);
    assert.equal(one.stats.units[0], 8);
    const many = await run(data, 3, ZSTD, 16);
    assert.equal(many.digest, one.digest, 'threads 16 changed the bytes');
    assert.equal(many.stats.units.reduce((a, b) => a + b, 0), 8);
    assert.ok(distinct(many.stats) >= 5, `threads 16: only ${distinct(many.stats)} threads: ${many.stats.units.join(',')}`);
  });
});
