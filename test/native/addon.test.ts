// The native addon on its own: SHA-256 on both paths, argument and state errors, info, format
// round trips at every level, chunking independence, hidden zlib, and shutdown with calls in flight.
import { after, before, describe, it } from 'node:test';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BLOCK_SIZE, FORMAT_VERSION, GZIP_HEADER } from '../../src/engine/format.js';
import { loadNative, packageRoot, type NativeAddon, type NativePipeline } from '../../src/engine/native.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';

const loaded = loadNative();
const addon = loaded.addon as NativeAddon;
const skip = loaded.addon ? false : `addon did not load: ${loaded.error?.message}`;

const GZIP = 0;
const NONE = 1;

function sha256hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** xorshift32, so chunk boundaries reproduce from the seed in a failure message. */
function prng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Run {
  out: Buffer;
  digest: string;
  diffID: string;
  size: number;
}

async function run(level: number, chunks: Uint8Array[], mode = GZIP): Promise<Run> {
  const p = new addon.Pipeline(level, mode);
  const parts: Buffer[] = [];
  for (const chunk of chunks) parts.push(await p.update(chunk));
  const r = await p.finish();
  parts.push(r.out);
  assert.equal(r.digest.length, 32);
  assert.equal(r.diffID.length, 32);
  return { out: Buffer.concat(parts), digest: r.digest.toString('hex'), diffID: r.diffID.toString('hex'), size: r.size };
}

async function rejectsWith(promise: Promise<unknown>, type: ErrorConstructor, code: string): Promise<void> {
  await assert.rejects(promise, (err: NodeJS.ErrnoException) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

function throwsWith(fn: () => unknown, type: ErrorConstructor, code: string): void {
  assert.throws(fn, (err: NodeJS.ErrnoException) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Runs a script in a fresh node with the addon's path as argv[1]. */
function child(script: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['-e', script, loaded.path ?? ''], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
}

describe('native addon', () => {
  it('loads', () => {
    assert.ok(loaded.addon, `the native addon must load after npm run build:native: ${loaded.error?.message}`);
  });

  describe('sha256', { skip }, () => {
    const vectors: [string, Uint8Array, string][] = [
      ['empty', new Uint8Array(0), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['"abc"', Buffer.from('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
      [
        '448-bit message',
        Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'),
        '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
      ],
      ['one million "a"', Buffer.alloc(1_000_000, 'a'), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0'],
    ];
    for (const [path, force] of [['process default', undefined], ['portable', true], ['accelerated if available', false]] as const) {
      it(`NIST vectors (${path})`, () => {
        for (const [name, data, hex] of vectors) {
          assert.equal(addon.sha256(data, force).toString('hex'), hex, name);
        }
      });

      it(`random lengths 0..10000 match node:crypto (${path})`, () => {
        const data = randomBytes(10_000 + 64, 3);
        const next = prng(11);
        const lengths = [...Array.from({ length: 200 }, (_, i) => i), ...Array.from({ length: 200 }, () => next(10_001))];
        for (const len of lengths) {
          // Odd offsets too: the block code must not assume alignment.
          const offset = next(64);
          const view = data.subarray(offset, offset + len);
          assert.equal(addon.sha256(view, force).toString('hex'), sha256hex(view), `length ${len} offset ${offset}`);
        }
      });
    }

    it('reads any ArrayBufferView by bytes, respecting byteOffset', () => {
      const bytes = randomBytes(4096, 5);
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
      const expected = sha256hex(new Uint8Array(ab, 8, 4000));
      assert.equal(addon.sha256(new Uint16Array(ab, 8, 2000)).toString('hex'), expected);
      assert.equal(addon.sha256(new Float64Array(ab, 8, 500)).toString('hex'), expected);
      assert.equal(addon.sha256(new DataView(ab, 8, 4000)).toString('hex'), expected);
    });

    it('rejects non-views with ERR_INVALID_ARG_TYPE', () => {
      for (const bad of ['abc', 42, null, undefined, {}, new ArrayBuffer(8)]) {
        throwsWith(() => addon.sha256(bad as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
      throwsWith(() => addon.sha256(Buffer.alloc(1), 'yes' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    });

    it('FASTLAYER_SHA256=portable selects the portable path at load time', () => {
      const script = `
        const m = { exports: {} };
        process.dlopen(m, process.argv[1]);
        const { info, sha256, Pipeline } = m.exports;
        const p = new Pipeline(1, 0);
        p.update(Buffer.from('abc')).then(() => p.finish()).then((r) => {
          console.log(JSON.stringify({ impl: info.sha256, abc: sha256(Buffer.from('abc')).toString('hex'), diffID: r.diffID.toString('hex') }));
        });`;
      const r = child(script, { FASTLAYER_SHA256: 'portable' });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout) as { impl: string; abc: string; diffID: string };
      assert.equal(got.impl, 'portable');
      assert.equal(got.abc, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      assert.equal(got.diffID, got.abc);
    });
  });

  describe('info', { skip }, () => {
    it('has the format constants, library versions, SHA-256 path and fingerprint', () => {
      const { info } = addon;
      assert.equal(info.format, FORMAT_VERSION);
      assert.equal(info.blockSize, BLOCK_SIZE);
      assert.match(info.isal, /^\d+\.\d+\.\d+$/);
      assert.match(info.zlib, /^\d+\.\d+(\.\d+)*/);
      // Per architecture: SHA-NI on x86-64, the ARMv8 SHA-256 instructions on aarch64.
      assert.ok(['sha-ni', 'armv8-sha2', 'portable'].includes(info.sha256), info.sha256);
      assert.ok(Object.isFrozen(info));
    });

    it('fingerprint matches the sources (a stale build fails here: npm run build:native)', () => {
      const r = spawnSync(process.execPath, [join(packageRoot(), 'scripts', 'find-libs.cjs'), 'fingerprint'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.match(addon.info.fingerprint, /^[0-9a-f]{16}$/);
      if (loaded.kind === 'build') assert.equal(addon.info.fingerprint, r.stdout.trim());
    });
  });

  describe('arguments and state', { skip }, () => {
    it('constructor validates level and mode', () => {
      throwsWith(() => new addon.Pipeline('1' as never, GZIP), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsWith(() => new (addon.Pipeline as unknown as new () => NativePipeline)(), TypeError, 'ERR_INVALID_ARG_TYPE');
      throwsWith(() => new addon.Pipeline(1, undefined as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      for (const level of [-1, 10, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        throwsWith(() => new addon.Pipeline(level, GZIP), RangeError, 'ERR_OUT_OF_RANGE');
      }
      for (const mode of [-1, 3, 0.5]) throwsWith(() => new addon.Pipeline(1, mode), RangeError, 'ERR_OUT_OF_RANGE');
      throwsWith(() => new addon.Pipeline(1, GZIP, '2' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      for (const threads of [0, 65, 2.5, -1, Number.NaN]) {
        throwsWith(() => new addon.Pipeline(1, GZIP, threads), RangeError, 'ERR_OUT_OF_RANGE');
      }
      assert.equal(addon.info.maxThreads, 64);
      new addon.Pipeline(1, GZIP, 64).destroy();
    });

    it('threads > 1 really puts units on helper threads, threads 1 never does', async () => {
      const input = semiCompressible(4 * BLOCK_SIZE + 100);
      const run = async (threads: number) => {
        const p = new addon.Pipeline(1, GZIP, threads);
        const out = Buffer.concat([await p.update(input), (await p.finish()).out]);
        return out;
      };
      const one = await run(1);
      const before = addon.poolStats().helperUnits;
      // The helper may be slow to wake on a loaded machine: the caller then takes every unit itself.
      for (let i = 0; i < 20 && addon.poolStats().helperUnits === before; i++) {
        assert.ok((await run(3)).equals(one), '3 threads changed the bytes');
      }
      const stats = addon.poolStats();
      assert.ok(stats.helperUnits > before, 'no unit ran on a helper thread in 20 calls');
      assert.ok(stats.threads >= 1 && stats.threads <= 63, `pool threads: ${stats.threads}`);
      const after = stats.helperUnits;
      await run(1);
      assert.equal(addon.poolStats().helperUnits, after, 'threads 1 used a helper');
    });

    it('update rejects non-views with ERR_INVALID_ARG_TYPE and stays usable', async () => {
      const p = new addon.Pipeline(6, GZIP);
      for (const bad of ['abc', 1, null, undefined, [1, 2], new ArrayBuffer(4)]) {
        await rejectsWith(p.update(bad as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
      await p.update(Buffer.from('still fine'));
      const r = await p.finish();
      assert.ok(r.size > 0);
    });

    it('a second call while one is in flight rejects with ERR_FASTLAYER_BUSY', async () => {
      const p = new addon.Pipeline(9, GZIP);
      const first = p.update(semiCompressible(2 * BLOCK_SIZE));
      await rejectsWith(p.update(Buffer.from('x')), Error, 'ERR_FASTLAYER_BUSY');
      await rejectsWith(p.finish(), Error, 'ERR_FASTLAYER_BUSY');
      const head = await first;
      // The rejected calls consumed nothing.
      const rest = await p.finish();
      assert.deepEqual(gunzipSync(Buffer.concat([head, rest.out])), semiCompressible(2 * BLOCK_SIZE));
    });

    it('calls after finish reject with ERR_FASTLAYER_FINISHED', async () => {
      const p = new addon.Pipeline(1, GZIP);
      await p.finish();
      await rejectsWith(p.update(Buffer.from('x')), Error, 'ERR_FASTLAYER_FINISHED');
      await rejectsWith(p.finish(), Error, 'ERR_FASTLAYER_FINISHED');
      p.destroy();
      await rejectsWith(p.finish(), Error, 'ERR_FASTLAYER_DESTROYED');
    });

    it('calls after destroy reject with ERR_FASTLAYER_DESTROYED; destroy is idempotent', async () => {
      const p = new addon.Pipeline(2, GZIP);
      p.destroy();
      p.destroy();
      await rejectsWith(p.update(Buffer.from('x')), Error, 'ERR_FASTLAYER_DESTROYED');
      await rejectsWith(p.finish(), Error, 'ERR_FASTLAYER_DESTROYED');
    });

    it('destroy while a call is in flight is safe; the call settles', async () => {
      for (const level of [0, 1, 9]) {
        const p = new addon.Pipeline(level, GZIP);
        const pending = p.update(semiCompressible(4 * BLOCK_SIZE));
        p.destroy();
        await rejectsWith(pending, Error, 'ERR_FASTLAYER_DESTROYED');
        await rejectsWith(p.update(Buffer.from('x')), Error, 'ERR_FASTLAYER_DESTROYED');
      }
      const p = new addon.Pipeline(6, GZIP);
      await p.update(Buffer.from('abc'));
      const finishing = p.finish();
      p.destroy();
      await rejectsWith(finishing, Error, 'ERR_FASTLAYER_DESTROYED');
    });

    it('flush(): the output so far inflates to the input so far; busy, finished and destroyed as update()', async () => {
      const p = new addon.Pipeline(6, GZIP, 4);
      const flush = () => p.flush!();
      // Before any input: the header alone (an empty prefix).
      const parts: Buffer[] = [await flush()];
      assert.deepEqual(parts[0], Buffer.from(GZIP_HEADER));
      const input = semiCompressible(3 * BLOCK_SIZE + 12345);
      for (const [from, to] of [[0, 100], [100, 100 + BLOCK_SIZE], [100 + BLOCK_SIZE, input.length]] as const) {
        parts.push(await p.update(input.subarray(from, to)));
        const inFlight = flush();
        await rejectsWith(p.update(Buffer.from('x')), Error, 'ERR_FASTLAYER_BUSY');
        parts.push(await inFlight);
        assert.equal((await flush()).length, 0, 'a second flush adds nothing');
        const soFar = gunzipSync(Buffer.concat(parts), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
        assert.deepEqual(soFar, input.subarray(0, to));
      }
      const r = await p.finish();
      const all = Buffer.concat([...parts, r.out]);
      assert.deepEqual(gunzipSync(all), input);
      assert.equal(r.size, all.length);
      assert.equal(r.digest.toString('hex'), createHash('sha256').update(all).digest('hex'));
      await rejectsWith(flush(), Error, 'ERR_FASTLAYER_FINISHED');
      p.destroy();
      await rejectsWith(flush(), Error, 'ERR_FASTLAYER_DESTROYED');
      const q = new addon.Pipeline(9, GZIP);
      await q.update(semiCompressible(BLOCK_SIZE - 1));
      const pending = q.flush!();
      q.destroy();
      await rejectsWith(pending, Error, 'ERR_FASTLAYER_DESTROYED');
    });

    it('accepts SharedArrayBuffer-backed views', async () => {
      const input = semiCompressible(BLOCK_SIZE + 1000);
      const shared = new Uint8Array(new SharedArrayBuffer(input.length + 16), 16);
      shared.set(input);
      const expected = await run(1, [input]);
      assert.deepEqual(await run(1, [shared.subarray(0, 1000), shared.subarray(1000)]), expected);
      assert.equal(addon.sha256(shared).toString('hex'), sha256hex(input));
    });

    describe('readFile', () => {
      let dir: string;
      before(() => (dir = mkdtempSync(join(tmpdir(), 'fastlayer-addon-'))));
      after(() => rmSync(dir, { recursive: true, force: true }));

      it('reads the file itself: same bytes as update() with them, short only at the end', async () => {
        const input = semiCompressible(3 * BLOCK_SIZE + 77, 5);
        const file = join(dir, 'input');
        writeFileSync(file, input);
        const expected = await run(1, [input]);
        const fd = openSync(file, 'r');
        try {
          const p = new addon.Pipeline(1, GZIP);
          const parts: Buffer[] = [];
          const reads: number[] = [];
          for (let position = 0; ; ) {
            const { out, bytesRead } = await p.readFile(fd, position, 2 * BLOCK_SIZE);
            parts.push(out);
            reads.push(bytesRead);
            position += bytesRead;
            if (bytesRead < 2 * BLOCK_SIZE) break;
          }
          const r = await p.finish();
          parts.push(r.out);
          assert.deepEqual(reads, [2 * BLOCK_SIZE, BLOCK_SIZE + 77]);
          assert.deepEqual(Buffer.concat(parts), expected.out);
          assert.equal(r.diffID.toString('hex'), expected.diffID);
        } finally {
          closeSync(fd);
        }
      });

      // A call reads 1 MiB pieces into a page-aligned buffer, each at its file position's offset in
      // a page (native/addon/addon_input.h): calls longer than a piece, odd starts, a file that ends
      // on a piece boundary, and update() calls in between (which fill the same buffer at offset 0)
      // must all give the bytes of one update() with everything.
      it('a call longer than its 1 MiB read piece, from any position, gives the same bytes', async () => {
        const MiB = 1024 * 1024;
        const input = semiCompressible(4 * MiB + 4093, 9);
        const file = join(dir, 'pieces');
        writeFileSync(file, input);
        for (const [start, lengths] of [
          [0, [4 * MiB]],
          [4093, [MiB + 3, 2 * MiB + 5, 4 * MiB]],
          [4095, [3 * MiB, 64 * 1024 * 1024]],
          [1, [MiB - 1, MiB]],
          [4093, [4 * MiB]],
        ] as const) {
          const expected = await run(6, [input.subarray(start)]);
          const fd = openSync(file, 'r');
          try {
            const p = new addon.Pipeline(6, GZIP);
            const parts: Buffer[] = [];
            let position = start;
            let reads = 0;
            for (let i = 0; position < input.length; i++) {
              if (i === 1) {
                // update() in between, with more bytes than a piece: the buffer grows and is
                // filled from its start; the next read takes it at its own offset again.
                const between = input.subarray(position, Math.min(input.length, position + MiB + 4097));
                parts.push(await p.update([between]));
                position += between.length;
                continue;
              }
              // The call lengths in turn (the last one repeats), the update() between them aside.
              const length = lengths[Math.min(reads++, lengths.length - 1)];
              const { out, bytesRead } = await p.readFile(fd, position, length);
              parts.push(out);
              assert.equal(bytesRead, Math.min(length, input.length - position), `read at ${position}`);
              position += bytesRead;
            }
            const r = await p.finish();
            parts.push(r.out);
            assert.deepEqual(Buffer.concat(parts), expected.out, `start ${start}`);
            assert.equal(r.diffID.toString('hex'), expected.diffID);
            assert.equal(r.digest.toString('hex'), expected.digest);
          } finally {
            closeSync(fd);
          }
        }
        // A file that ends exactly on a piece boundary: the call stops at the end, short.
        const whole = join(dir, 'whole');
        writeFileSync(whole, input.subarray(0, 2 * MiB));
        const fd = openSync(whole, 'r');
        try {
          const p = new addon.Pipeline(1, GZIP);
          const { bytesRead } = await p.readFile(fd, 0, 4 * MiB);
          assert.equal(bytesRead, 2 * MiB);
          assert.equal((await p.finish()).diffID.toString('hex'), sha256hex(input.subarray(0, 2 * MiB)));
        } finally {
          closeSync(fd);
        }
      });

      it('position -1 reads where the descriptor stands', async () => {
        const file = join(dir, 'seq');
        writeFileSync(file, 'abcdefgh');
        const fd = openSync(file, 'r');
        try {
          readSync(fd, Buffer.alloc(3), 0, 3, null);
          const p = new addon.Pipeline(0, NONE);
          const { out, bytesRead } = await p.readFile(fd, -1, 100);
          assert.equal(bytesRead, 5);
          assert.equal(out.toString(), 'defgh');
          await p.finish();
        } finally {
          closeSync(fd);
        }
      });

      it('validates fd, position and length; read errors reject with the libuv code', async () => {
        const p = new addon.Pipeline(1, GZIP);
        await rejectsWith(p.readFile('3' as never, 0, 10), TypeError, 'ERR_INVALID_ARG_TYPE');
        await rejectsWith(p.readFile(-1, 0, 10), RangeError, 'ERR_OUT_OF_RANGE');
        await rejectsWith(p.readFile(0, -2, 10), RangeError, 'ERR_OUT_OF_RANGE');
        await rejectsWith(p.readFile(0, 0.5, 10), RangeError, 'ERR_OUT_OF_RANGE');
        await rejectsWith(p.readFile(0, 0, 0), RangeError, 'ERR_OUT_OF_RANGE');
        await rejectsWith(p.readFile(0, 0, 2 ** 30), RangeError, 'ERR_OUT_OF_RANGE');
        // A directory opens for reading but cannot be read.
        const fd = openSync(dir, 'r');
        try {
          await rejectsWith(p.readFile(fd, 0, 10), Error, 'EISDIR');
        } finally {
          closeSync(fd);
        }
        // Like any failed call, the pipeline cannot go on.
        await rejectsWith(p.update(Buffer.from('x')), Error, 'ERR_FASTLAYER_FAILED');
        p.destroy();
      });
    });

    it('a detached buffer reads as empty and does not crash', async () => {
      const ab = new ArrayBuffer(1024);
      const view = new Uint8Array(ab);
      view.fill(7);
      structuredClone(ab, { transfer: [ab] });
      assert.equal(view.length, 0);
      const p = new addon.Pipeline(1, GZIP);
      const out = await p.update(view);
      const r = await p.finish();
      assert.equal(gunzipSync(Buffer.concat([out, r.out])).length, 0);
      assert.equal(addon.sha256(view).toString('hex'), sha256hex(new Uint8Array(0)));
    });
  });

  describe('format', { skip }, () => {
    const sizes = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 5];
    const input = semiCompressible(3 * BLOCK_SIZE + 5, 21);

    for (let level = 0; level <= 9; level++) {
      it(`level ${level}: gunzips to the input; digest, diffID and size describe the bytes`, async () => {
        for (const size of sizes) {
          const data = input.subarray(0, size);
          const r = await run(level, [data]);
          assert.deepEqual(gunzipSync(r.out), data, `size ${size}`);
          assert.deepEqual(r.out.subarray(0, 10), Buffer.from(GZIP_HEADER));
          assert.equal(r.size, r.out.length);
          assert.equal(r.digest, sha256hex(r.out));
          assert.equal(r.diffID, sha256hex(data));
          assert.equal(r.out.readUInt32LE(r.out.length - 4), size);
        }
      });
    }

    it('level 0 writes the stored blocks of docs/DESIGN.md exactly', async () => {
      const empty = await run(0, []);
      assert.deepEqual(empty.out, Buffer.from([...GZIP_HEADER, 0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]));
      const data = Buffer.from('hello');
      const small = await run(0, [data]);
      assert.deepEqual(small.out.subarray(10, 20), Buffer.from([0x01, 5, 0, 0xfa, 0xff, ...data]));
      // One full unit: four blocks of 65535 bytes and one of 4 (BFINAL=0), then the empty final unit.
      const full = await run(0, [input.subarray(0, BLOCK_SIZE)]);
      const body = full.out.subarray(10, full.out.length - 8);
      const n = Math.ceil(BLOCK_SIZE / 65535);
      assert.equal(body.length, BLOCK_SIZE + 5 * n + 5);
      assert.deepEqual(body.subarray(0, 5), Buffer.from([0x00, 0xff, 0xff, 0x00, 0x00]));
      assert.deepEqual(body.subarray(body.length - 5), Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]));
    });

    it("compression 'none' passes bytes through; digest equals diffID", async () => {
      const data = input.subarray(0, BLOCK_SIZE + 7);
      const r = await run(5, [data.subarray(0, 100), new Uint8Array(0), data.subarray(100)], NONE);
      assert.deepEqual(r.out, data);
      assert.equal(r.size, data.length);
      assert.equal(r.digest, sha256hex(data));
      assert.equal(r.diffID, r.digest);
    });

    it('the same input in different chunkings gives identical bytes', async () => {
      const data = input;
      for (const level of [0, 1, 2, 3, 6, 9]) {
        const reference = await run(level, [data]);
        for (const seed of [1, 2, 3]) {
          const next = prng(seed * 100 + level);
          const chunks: Uint8Array[] = [];
          for (let pos = 0; pos < data.length; ) {
            // Mostly small chunks, some empty, some spanning several blocks.
            const pick = next(10);
            const n = pick === 0 ? 0 : pick < 6 ? 1 + next(5000) : pick < 9 ? 1 + next(BLOCK_SIZE) : 1 + next(3 * BLOCK_SIZE);
            chunks.push(data.subarray(pos, pos + n));
            pos += n;
          }
          assert.deepEqual(await run(level, chunks), reference, `level ${level} seed ${seed}`);
        }
      }
    });

    it('incompressible input round-trips at levels 1, 2 and 9', async () => {
      const data = randomBytes(2 * BLOCK_SIZE + 3, 9);
      for (const level of [1, 2, 9]) {
        const r = await run(level, [data]);
        assert.deepEqual(gunzipSync(r.out), data);
      }
    });
  });

  describe('linking', { skip }, () => {
    it('exports no zlib symbols and imports none from node', () => {
      const file = loaded.path!;
      const zlibName = /^(deflate\w*|inflate\w*|crc32|crc32_z|crc32_combine\w*|adler32\w*|zlibVersion|zlibCompileFlags|compress\w*|uncompress\w*|gz\w+|get_crc_table|zError)(@.*)?$/;
      const defined = spawnSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' });
      assert.equal(defined.status, 0, defined.stderr);
      const names = defined.stdout.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '');
      assert.ok(names.includes('napi_register_module_v1'), 'nm output looks wrong');
      assert.deepEqual(names.filter((n) => /deflate|inflate|crc32|adler32|zlib/i.test(n)), []);
      // libzstd is linked statically and hidden too: node has its own (another version, from 22.15).
      assert.deepEqual(names.filter((n) => /zstd|HUF_|FSE_|HIST_|POOL_|XXH/i.test(n)), []);
      const undefinedSyms = spawnSync('nm', ['-D', '--undefined-only', file], { encoding: 'utf8' });
      assert.equal(undefinedSyms.status, 0, undefinedSyms.stderr);
      const imports = undefinedSyms.stdout.split('\n').map((l) => l.trim().split(/\s+/).pop() ?? '');
      assert.deepEqual(imports.filter((n) => zlibName.test(n)), []);
      assert.deepEqual(imports.filter((n) => /zstd|HUF_|FSE_|XXH/i.test(n)), [], 'zstd symbols resolved at load time');
    });
  });

  describe('shutdown with calls in flight', { skip }, () => {
    it('worker threads terminated mid-call and process.exit() mid-call exit cleanly', () => {
      // Each worker starts slow level-9 calls and is terminated while they run on the threadpool;
      // then the main thread exits while one of its own calls runs.
      const workerCode = `
        const { parentPort, workerData } = require('node:worker_threads');
        const m = { exports: {} };
        process.dlopen(m, workerData);
        const big = Buffer.alloc(8 << 20, 'layer bytes ');
        for (let i = 0; i < 3; i++) new m.exports.Pipeline(9, 0).update(big);
        parentPort.postMessage('started');`;
      const script = `
        const { Worker } = require('node:worker_threads');
        const path = process.argv[1];
        (async () => {
          for (let i = 0; i < 4; i++) {
            const w = new Worker(process.argv[2], { eval: true, workerData: path });
            await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
            await w.terminate();
          }
          const m = { exports: {} };
          process.dlopen(m, path);
          new m.exports.Pipeline(9, 0).update(Buffer.alloc(8 << 20, 'layer bytes '));
          setTimeout(() => { console.log('exiting'); process.exit(0); }, 5);
        })();`;
      const r = spawnSync(process.execPath, ['-e', script, loaded.path ?? '', workerCode], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.signal, null, `crashed with ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /exiting/);
    });

    it('an unreachable pipeline with a call in flight completes and is collected without a crash', () => {
      const script = `
        const m = { exports: {} };
        process.dlopen(m, process.argv[1]);
        const big = Buffer.alloc(4 << 20, 'x');
        let settled = 0;
        for (let i = 0; i < 8; i++) new m.exports.Pipeline(6, 0).update(big).then(() => settled++);
        global.gc();
        setTimeout(() => { global.gc(); console.log('settled', settled); }, 2000);`;
      const r = spawnSync(process.execPath, ['--expose-gc', '-e', script, loaded.path ?? ''], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.signal, null, r.stderr);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /settled 8/);
    });
  });
});
