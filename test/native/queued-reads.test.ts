// readFile() with `continues`: the next read of a one-thread layer is made before the one in flight
// settles and waits behind it (native/addon/addon_call_order.h). Hazards: bytes out of order or read
// twice, a read past the end of a file that grew meanwhile, a third call slipping in, a failure or
// destroy() leaving the queued read running on a dead pipeline, the descriptor closed under a read.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { loadNative, type NativeAddon, type NativePipeline } from '../../src/engine/native.js';
import { Layer } from '../../src/layer/layer.js';
import { semiCompressible } from '../helpers/data.js';

const loaded = loadNative();
const addon = loaded.addon as NativeAddon;
const skip = loaded.addon ? false : `addon did not load: ${loaded.error?.message}`;

const GZIP = 0;
const NONE = 1;
const ZSTD = 2;
const MiB = 1024 * 1024;

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, String(err));
    return true;
  });
}

/** The bytes and digests of one update() with all of `input`. */
async function oneUpdate(level: number, mode: number, input: Uint8Array) {
  const p = new addon.Pipeline(level, mode);
  const head = await p.update(input);
  const r = await p.finish();
  return { out: Buffer.concat([head, r.out]), digest: r.digest.toString('hex'), diffID: r.diffID.toString('hex') };
}

/** Reads `fd` from 0 with two calls in flight at a time, each made as the one before it settles. */
async function readQueued(p: NativePipeline, fd: number, length: number) {
  const parts: Buffer[] = [];
  const reads: number[] = [];
  let current = p.readFile(fd, 0, length);
  let position = length;
  for (;;) {
    const next = p.readFile(fd, position, length, true);
    position += length;
    const { out, bytesRead } = await current;
    parts.push(out);
    reads.push(bytesRead);
    if (bytesRead < length) {
      const last = await next;
      parts.push(last.out);
      reads.push(last.bytesRead);
      break;
    }
    current = next;
  }
  const r = await p.finish();
  parts.push(r.out);
  return { out: Buffer.concat(parts), reads, digest: r.digest.toString('hex'), diffID: r.diffID.toString('hex') };
}

describe('queued readFile() calls', { skip }, () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'fastlayer-queued-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `body` with `data` in a file of `dir`, open for reading; the descriptor is closed after. */
  async function withFile(name: string, data: Uint8Array, body: (fd: number, file: string) => Promise<void>): Promise<void> {
    const file = join(dir, name);
    writeFileSync(file, data);
    const fd = openSync(file, 'r');
    try {
      await body(fd, file);
    } finally {
      closeSync(fd);
    }
  }

  it('give the bytes of one update(), in order, for gzip, none and zstd on one thread or several', async () => {
    const input = semiCompressible(5 * MiB + 12_345, 3);
    await withFile('input', input, async (fd) => {
      for (const [level, mode, threads] of [
        [1, GZIP, 1],
        [6, GZIP, 1],
        [0, GZIP, 1],
        [0, NONE, 1],
        [3, ZSTD, 1],
        [1, GZIP, 4],
      ] as const) {
        const expected = await oneUpdate(level, mode, input);
        const got = await readQueued(new addon.Pipeline(level, mode, threads), fd, 2 * MiB);
        const what = `level ${level} mode ${mode} threads ${threads}`;
        assert.deepEqual(got.reads, [2 * MiB, 2 * MiB, MiB + 12_345, 0], what);
        assert.ok(got.out.equals(expected.out), what);
        assert.equal(got.digest, expected.digest, what);
        assert.equal(got.diffID, sha256(input), what);
      }
    });
  });

  it('a read made before the end was known reads nothing, even from a file that grew since', async () => {
    const input = semiCompressible(300_000, 4);
    await withFile('grows', input, async (fd, file) => {
      // Queued behind the read that reaches the end.
      const p = new addon.Pipeline(1, GZIP);
      const first = p.readFile(fd, 0, MiB);
      const second = p.readFile(fd, MiB, MiB, true);
      assert.equal((await first).bytesRead, input.length);
      assert.equal((await second).bytesRead, 0);
      // Made after it settled, once the file is longer than where it starts: still nothing.
      const q = new addon.Pipeline(1, GZIP);
      assert.equal((await q.readFile(fd, 0, 400_000)).bytesRead, input.length);
      appendFileSync(file, semiCompressible(200_000, 5));
      assert.ok(statSync(file).size > 400_000);
      const late = await q.readFile(fd, 400_000, MiB, true);
      assert.equal(late.bytesRead, 0);
      assert.equal(late.out.length, 0);
      for (const r of [await p.finish(), await q.finish()]) assert.equal(r.diffID.toString('hex'), sha256(input));
    });
  });

  it('a continuing read must start where the last call, a readFile() of the same fd, ended', async () => {
    const file = join(dir, 'small');
    writeFileSync(file, semiCompressible(100_000, 6));
    const fd = openSync(file, 'r');
    const other = openSync(file, 'r');
    try {
      const p = new addon.Pipeline(1, GZIP);
      await rejectsWith(p.readFile(fd, 0, 10, true), 'ERR_OUT_OF_RANGE'); // no call before it
      await p.readFile(fd, 0, 10);
      await rejectsWith(p.readFile(fd, 11, 10, true), 'ERR_OUT_OF_RANGE'); // a gap
      await rejectsWith(p.readFile(fd, 9, 10, true), 'ERR_OUT_OF_RANGE'); // an overlap
      await rejectsWith(p.readFile(other, 10, 10, true), 'ERR_OUT_OF_RANGE'); // another descriptor
      await p.readFile(fd, 10, 10, true);
      await p.update(Buffer.from('between'));
      await rejectsWith(p.readFile(fd, 20, 10, true), 'ERR_OUT_OF_RANGE'); // not after an update()
      await p.readFile(fd, -1, 10);
      await rejectsWith(p.readFile(fd, 10, 10, true), 'ERR_OUT_OF_RANGE'); // nor a read where fd stood
      // Refusals are argument errors: the pipeline goes on.
      await p.finish();
    } finally {
      closeSync(fd);
      closeSync(other);
    }
  });

  it('one read may be queued: a third call, update(), flush() and finish() are busy meanwhile', async () => {
    const input = semiCompressible(3 * MiB, 7);
    await withFile('busy', input, async (fd) => {
      const p = new addon.Pipeline(1, GZIP);
      const first = p.readFile(fd, 0, MiB);
      const second = p.readFile(fd, MiB, MiB, true);
      await rejectsWith(p.readFile(fd, 2 * MiB, MiB, true), 'ERR_FASTLAYER_BUSY');
      await rejectsWith(p.readFile(fd, 2 * MiB, MiB), 'ERR_FASTLAYER_BUSY');
      await rejectsWith(p.update(Buffer.from('x')), 'ERR_FASTLAYER_BUSY');
      await rejectsWith(p.flush!(), 'ERR_FASTLAYER_BUSY');
      await rejectsWith(p.finish(), 'ERR_FASTLAYER_BUSY');
      const parts = [(await first).out, (await second).out];
      // With the first settled, the second may be followed by one more.
      const third = await p.readFile(fd, 2 * MiB, MiB, true);
      assert.equal(third.bytesRead, MiB);
      parts.push(third.out);
      const r = await p.finish();
      parts.push(r.out);
      assert.ok(Buffer.concat(parts).equals((await oneUpdate(1, GZIP, input)).out));
    });
  });

  it('a failed read fails the read queued behind it, which never touches the pipeline', async () => {
    const fd = openSync(dir, 'r'); // a directory: opens, but EISDIR on read
    try {
      const p = new addon.Pipeline(1, GZIP);
      const first = p.readFile(fd, 0, MiB);
      const second = p.readFile(fd, MiB, MiB, true);
      await Promise.all([rejectsWith(first, 'EISDIR'), rejectsWith(second, 'ERR_FASTLAYER_FAILED')]);
      await rejectsWith(p.finish(), 'ERR_FASTLAYER_FAILED');
    } finally {
      closeSync(fd);
    }
  });

  it('destroy() with a read queued rejects both as destroyed, and the pipeline state is freed', async () => {
    await withFile('destroy', semiCompressible(8 * MiB, 8), async (fd) => {
      for (const threads of [1, 3]) {
        const p = new addon.Pipeline(6, GZIP, threads);
        const first = p.readFile(fd, 0, 4 * MiB);
        const second = p.readFile(fd, 4 * MiB, 4 * MiB, true);
        p.destroy();
        // Both handled at once: the second may settle while the first is awaited.
        await Promise.all([rejectsWith(first, 'ERR_FASTLAYER_DESTROYED'), rejectsWith(second, 'ERR_FASTLAYER_DESTROYED')]);
        await rejectsWith(p.readFile(fd, 0, 10), 'ERR_FASTLAYER_DESTROYED');
      }
    });
  });

  it('a one-thread layer reads ahead: a file in several calls, and one whose length is a multiple of the call', async () => {
    for (const size of [9 * MiB + 1, 8 * MiB, 1]) {
      const input = semiCompressible(size, size & 0xff);
      const file = join(dir, `layer-${size}`);
      writeFileSync(file, input);
      // Two threads read without queuing (readAhead is for one thread only); the bytes are the same.
      const one = Layer.fromFile(file, { threads: 1, engine: 'native' });
      const two = Layer.fromFile(file, { threads: 2, engine: 'native' });
      const parts: Buffer[] = [];
      await pipeline(one.compressed(), new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }));
      await pipeline(two.compressed(), new Writable({ write: (_c, _e, cb) => cb() }));
      assert.equal((await one.diffID()).hex, sha256(input), `size ${size}`);
      assert.equal((await one.digest()).hex, (await two.digest()).hex, `size ${size}`);
      assert.ok(gunzipSync(Buffer.concat(parts)).equals(input), `size ${size}`);
    }
  });
});
