// The addon's gzipMembers and MemberDigests on their own: members of one and of several units,
// threads 1 and 4, many calls in flight sharing one MemberDigests (their input and output hashed in
// the order the calls were made, whatever order they finish in), and the calls that must not hold a
// turn (refused ones) or finish early.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { loadNative, type NativeAddon } from '../../src/engine/native.js';
import { threadpoolSize } from '../../src/engine/limiter.js';
import { semiCompressible } from '../helpers/data.js';

const loaded = loadNative();
const addon = loaded.addon as NativeAddon;
const skip = !loaded.addon ? 'the addon did not load' : !addon.MemberDigests ? 'the addon has no MemberDigests' : false;
const sha = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** Call i's members: a mix of empty, small, one-unit, exactly-a-unit and multi-unit inputs. */
function call(i: number): Buffer[] {
  const sizes = [[0, 17, 5000], [BLOCK_SIZE], [3 * BLOCK_SIZE + 99, 1], [200_000, 12, BLOCK_SIZE - 1]][i % 4]!;
  return sizes.map((n, k) => semiCompressible(n, 100 * i + k + 1));
}

describe('gzipMembers with MemberDigests', { skip }, () => {
  for (const level of [1, 6]) {
    it(`level ${level}: 12 calls in flight hash their inputs and members in call order; threads 1 and 4 agree`, async () => {
      const runs = [];
      for (const threads of [1, 4]) {
        const digests = new addon.MemberDigests!();
        const inputs = Array.from({ length: 12 }, (_, i) => call(i));
        const calls = inputs.map((members) =>
          addon.gzipMembers!(level, members.flatMap((m) => [m.subarray(0, m.length >> 1), m.subarray(m.length >> 1)]), members.map((m) => m.length), threads, members.map((m) => Math.min(m.length, 1000)), digests));
        assert.equal(digests.finish(Buffer.alloc(0)), undefined, 'finish before the calls settle');
        const results = await Promise.all(calls);
        const outs: Buffer[] = [];
        results.forEach((r, i) => {
          let at = 0;
          r.sizes.forEach((n, k) => {
            const member = r.out.subarray(at, (at += n));
            assert.deepEqual(gunzipSync(member), inputs[i]![k], `call ${i} member ${k}`);
            assert.equal(r.digests.toString('hex', 32 * k, 32 * k + 32), sha(inputs[i]![k]!.subarray(0, 1000)));
          });
          outs.push(r.out);
        });
        const tail = Buffer.from('footer');
        const got = digests.finish(tail)!;
        assert.equal(got.diffID.toString('hex'), sha(...inputs.flat()));
        assert.equal(got.digest.toString('hex'), sha(...outs, tail));
        assert.equal(digests.finish(tail), undefined, 'a second finish');
        runs.push(Buffer.concat(outs));
      }
      assert.ok(runs[0]!.equals(runs[1]!));
    });
  }

  it('a refused call holds no turn: the calls after it and finish go on', async () => {
    const digests = new addon.MemberDigests!();
    const a = semiCompressible(3000, 1);
    const b = semiCompressible(4000, 2);
    const first = addon.gzipMembers!(1, [a], [a.length], 2, [0], digests);
    assert.throws(() => addon.gzipMembers!(1, [b], [b.length + 1], 2, [0], digests), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.gzipMembers!(10, [b], [b.length], 2, [0], digests), { code: 'ERR_OUT_OF_RANGE' });
    const second = addon.gzipMembers!(1, [b], [b.length], 2, [0], digests);
    const [r1, r2] = await Promise.all([first, second]);
    const got = digests.finish(Buffer.alloc(0))!;
    assert.equal(got.diffID.toString('hex'), sha(a, b));
    assert.equal(got.digest.toString('hex'), sha(r1.out, r2.out));
  });

  it('refuses a digests argument that is not a MemberDigests, a tail that is not a Uint8Array, and numbers or views of the wrong kind', () => {
    const a = Buffer.from('x');
    for (const bad of [{}, 1, 'digests', new Map()]) {
      assert.throws(() => addon.gzipMembers!(1, [a], [1], 1, [0], bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    assert.throws(() => new addon.MemberDigests!().finish('tail' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    // Numbers as a Float64Array or an array; other typed arrays, and views that are not Uint8Arrays, are refused.
    const b = Buffer.from('xy');
    assert.throws(() => addon.gzipMembers!(1, [b], new Uint32Array([2]) as never, 1, [0]), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => addon.gzipMembers!(1, [b], [2], 1, new Int32Array([0]) as never), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => addon.gzipMembers!(1, [new Uint16Array(1) as never], [2], 1, [0]), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => addon.gzipMembers!(1, [b], new Float64Array([3]), 1, [0]), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.gzipMembers!(1, [b], new Float64Array([NaN]), 1, [0]), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.gzipMembers!(1, [b], new Float64Array([2]), 1, new Float64Array([1.5])), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => addon.gzipMembers!(1, [b], ['2'] as never, 1, [0]), { code: 'ERR_OUT_OF_RANGE' });
  });

  it("file marks: a file's digest is that of its chunks (the members' prefixes) in order, across calls, after the members' digests", async (t) => {
    if (!addon.gzipMembersFiles) return t.skip('the addon has no file marks');
    const digests = new addon.MemberDigests!();
    // Three calls: a file of 3 chunks starting in the first and ending in the second, a file of 2
    // chunks inside the third, with unmarked members between; one chunk of odd length (not whole
    // blocks: the file then is not hashed in the shared pass).
    const m = (n: number, seed: number) => semiCompressible(n, seed);
    const calls = [
      { members: [m(5000, 1), m(64 * 1000 + 300, 2), m(64 * 3000, 3)], lens: [100, 64 * 1000, 64 * 3000], marks: [0, 1, 2] },
      { members: [m(1001 + 700, 4), m(9000, 5)], lens: [1001, 9000], marks: [3, 0] },
      { members: [m(70_000, 6), m(4096 + 10, 7), m(3000, 8)], lens: [65536, 4096, 3000], marks: [1, 3, 0] },
    ];
    const results = await Promise.all(calls.map((c) => addon.gzipMembers!(1, c.members, c.members.map((x) => x.length), 2, c.lens, digests, c.marks)));
    const prefix = (c: number, k: number) => calls[c]!.members[k]!.subarray(0, calls[c]!.lens[k]);
    results.forEach((r, c) => {
      const n = calls[c]!.members.length;
      const ends = calls[c]!.marks.filter((x) => x === 3).length;
      assert.equal(r.digests.length, 32 * (n + ends), `call ${c}: one more digest per file ended`);
      for (let k = 0; k < n; k++) assert.equal(r.digests.toString('hex', 32 * k, 32 * k + 32), sha(prefix(c, k)), `call ${c} chunk ${k}`);
    });
    assert.equal(results[1]!.digests.toString('hex', 64, 96), sha(prefix(0, 1), prefix(0, 2), prefix(1, 0)));
    assert.equal(results[2]!.digests.toString('hex', 96, 128), sha(prefix(2, 0), prefix(2, 1)));
    const got = digests.finish(Buffer.alloc(0))!;
    assert.equal(got.diffID.toString('hex'), sha(...calls.flatMap((c) => c.members)));
    assert.equal(got.digest.toString('hex'), sha(...results.map((r) => r.out)));
  });

  it('file marks out of order are refused and hold no turn; a file left open makes finish refuse', async (t) => {
    if (!addon.gzipMembersFiles) return t.skip('the addon has no file marks');
    const a = semiCompressible(3000, 1);
    const digests = new addon.MemberDigests!();
    for (const marks of [[2], [3], [4], [-1], [1.5], ['1'], [1, 1], [1, 0]]) {
      const members = marks.map(() => a);
      assert.throws(() => addon.gzipMembers!(1, members, members.map((x) => x.length), 1, members.map(() => 100), digests, marks as never), { code: 'ERR_OUT_OF_RANGE' }, JSON.stringify(marks));
    }
    assert.throws(() => addon.gzipMembers!(1, [a], [a.length], 1, [100], digests, [1, 3]), { code: 'ERR_OUT_OF_RANGE' }, 'one mark per member');
    assert.throws(() => addon.gzipMembers!(1, [a], [a.length], 1, [100], undefined, [1]), { code: 'ERR_INVALID_ARG_TYPE' }, 'marks need a MemberDigests');
    assert.throws(() => addon.gzipMembers!(1, [a], [a.length], 1, [100], digests, 'x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    await addon.gzipMembers!(1, [a, a], [a.length, a.length], 1, [100, 100], digests, [0, 1]);
    assert.throws(() => addon.gzipMembers!(1, [a], [a.length], 1, [100], digests, [0]), { code: 'ERR_OUT_OF_RANGE' }, 'a file is open');
    assert.equal(digests.finish(Buffer.alloc(0)), undefined, 'a file left open');
    await addon.gzipMembers!(1, [a], [a.length], 1, [100], digests, [3]);
    assert.ok(digests.finish(Buffer.alloc(0)), 'the file ended');
  });

  it('hazard: the views are read on the worker; the call holds them though the caller drops them and collections run', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Every threadpool thread is held first, in open() of a FIFO until a writer comes, so the calls
    // below start only after the collections.
    const dir = mkdtempSync(join(tmpdir(), 'fastlayer-members-'));
    const fifo = join(dir, 'hold');
    execFileSync('mkfifo', [fifo]);
    const held = Array.from({ length: threadpoolSize() }, () => open(fifo, 'r').then((h) => h.close()));
    const want: string[] = [];
    const calls = [];
    for (let i = 0; i < 8; i++) {
      // Buffers of their own (not the pool's), referenced by nothing but the call's array.
      const members = [Buffer.from(semiCompressible(3 * BLOCK_SIZE + 17, i + 1)), Buffer.from(semiCompressible(40_000, i + 50))];
      want.push(sha(...members));
      calls.push(addon.gzipMembers!(1, members, members.map((m) => m.length), 1, [0, 0]));
    }
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20)); // backing stores are freed off the main thread
      Buffer.alloc(8 * BLOCK_SIZE, i + 1); // memory the freed buffers would be reused for
    }
    closeSync(openSync(fifo, 'w'));
    await Promise.all(held);
    rmSync(dir, { recursive: true, force: true });
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      let at = 0;
      assert.equal(sha(...Array.from(r.sizes, (n) => gunzipSync(r.out.subarray(at, (at += n))))), want[i], `call ${i}`);
    });
  });

  it('an empty run: the digests of nothing (and of the tail alone)', () => {
    const got = new addon.MemberDigests!().finish(Buffer.from('t'))!;
    assert.equal(got.diffID.toString('hex'), sha());
    assert.equal(got.digest.toString('hex'), sha(Buffer.from('t')));
  });
});
