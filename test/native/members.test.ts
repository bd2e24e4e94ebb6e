// The addon's gzipMembers and MemberDigests on their own: members of one and of several units,
// threads 1 and 4, many calls in flight sharing one MemberDigests (their input and output hashed in
// the order the calls were made, whatever order they finish in), and the calls that must not hold a
// turn (refused ones) or finish early.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { loadNative, type NativeAddon } from '../../src/engine/native.js';
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

  it('refuses a digests argument that is not a MemberDigests, and a tail that is not a Uint8Array', () => {
    const a = Buffer.from('x');
    for (const bad of [{}, 1, 'digests', new Map()]) {
      assert.throws(() => addon.gzipMembers!(1, [a], [1], 1, [0], bad as never), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    assert.throws(() => new addon.MemberDigests!().finish('tail' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('an empty run: the digests of nothing (and of the tail alone)', () => {
    const got = new addon.MemberDigests!().finish(Buffer.from('t'))!;
    assert.equal(got.diffID.toString('hex'), sha());
    assert.equal(got.digest.toString('hex'), sha(Buffer.from('t')));
  });
});
