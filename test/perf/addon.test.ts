// The addon's vectored update() (an array of views in one threadpool call) and its output memory
// (large outputs live in reused blocks handed to JavaScript without a copy): same bytes as single
// views, argument errors per element, and outputs that stay valid and independent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { loadNative, type NativeAddon, type NativePipeline } from '../../src/engine/native.js';
import { randomBytes, semiCompressible } from '../helpers/data.js';

const loaded = loadNative();
const skip = loaded.addon ? false : `addon did not load: ${loaded.error?.message}`;

const GZIP = 0;
const NONE = 1;

function pipeline(level: number, mode = GZIP): NativePipeline {
  return new (loaded.addon as NativeAddon).Pipeline(level, mode);
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function runCalls(level: number, calls: Array<Uint8Array | Uint8Array[]>, mode = GZIP) {
  const p = pipeline(level, mode);
  const outs: Buffer[] = [];
  for (const input of calls) outs.push(await p.update(input));
  const r = await p.finish();
  outs.push(r.out);
  return { outs, out: Buffer.concat(outs), digest: r.digest.toString('hex'), diffID: r.diffID.toString('hex'), size: r.size };
}

/** Cuts `data` into lists of views: `perCall` views per list of sizes from `sizes`, cycling. */
function lists(data: Uint8Array, sizes: number[], perCall: number): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let pos = 0;
  let k = 0;
  while (pos < data.length) {
    const list: Uint8Array[] = [];
    for (let i = 0; i < perCall && pos < data.length; i++) {
      const n = Math.min(sizes[k++ % sizes.length]!, data.length - pos);
      list.push(data.subarray(pos, (pos += n)));
    }
    out.push(list);
  }
  return out;
}

describe('addon: vectored update', { skip }, () => {
  const input = semiCompressible(5 * BLOCK_SIZE + 12_345, 31);

  for (const [level, mode] of [[0, GZIP], [1, GZIP], [2, GZIP], [6, GZIP], [1, NONE]] as const) {
    it(`level ${level}${mode === NONE ? ', none' : ''}: arrays of views give the bytes of one view`, async () => {
      const whole = await runCalls(level, [input], mode);
      for (const [sizes, perCall] of [[[65_536], 16], [[1, 0, 4095, BLOCK_SIZE + 1, 100_000], 5], [[BLOCK_SIZE], 1]] as const) {
        const r = await runCalls(level, lists(input, [...sizes], perCall), mode);
        assert.ok(r.out.equals(whole.out), `views of ${sizes.join('/')} x${perCall}`);
        assert.equal(r.digest, whole.digest);
        assert.equal(r.diffID, sha256(input));
        assert.equal(r.size, whole.size);
      }
    });
  }

  it('mixes arrays and single views; an empty array consumes nothing', async () => {
    const whole = await runCalls(1, [input]);
    const a = input.subarray(0, 1000);
    const b = input.subarray(1000, 2 * BLOCK_SIZE);
    const c = input.subarray(2 * BLOCK_SIZE);
    const r = await runCalls(1, [[], a, [b], [], [c.subarray(0, 5), c.subarray(5)]]);
    assert.ok(r.out.equals(whole.out));
  });

  it('accepts any ArrayBufferView in the array', async () => {
    const data = semiCompressible(3000, 32);
    const ab = new ArrayBuffer(data.length + 8);
    new Uint8Array(ab, 8).set(data);
    const views = [new DataView(ab, 8, 1000), new Uint16Array(ab, 1008, 500), new Uint8Array(ab, 2008, 1000)];
    const r = await runCalls(6, [views as unknown as Uint8Array[]]);
    assert.ok(gunzipSync(r.out).equals(data));
  });

  it('rejects an array with a non-view element (TypeError naming it) and stays usable', async () => {
    const p = pipeline(1);
    for (const bad of [[Buffer.from('ok'), 'text'], [null], [Buffer.from('a'), new ArrayBuffer(4)], [[Buffer.from('nested')]]]) {
      await assert.rejects(p.update(bad as never), (err: NodeJS.ErrnoException) => {
        assert.ok(err instanceof TypeError);
        assert.equal(err.code, 'ERR_INVALID_ARG_TYPE');
        assert.match(err.message, /"chunk\[\d\]"/);
        return true;
      });
    }
    const out = Buffer.concat([await p.update([Buffer.from('still '), Buffer.from('fine')]), (await p.finish()).out]);
    assert.equal(gunzipSync(out).toString(), 'still fine');
  });

  it('a rejected vectored call while another is in flight consumed nothing', async () => {
    const p = pipeline(9);
    const first = p.update([input.subarray(0, BLOCK_SIZE), input.subarray(BLOCK_SIZE, 3 * BLOCK_SIZE)]);
    await assert.rejects(p.update([Buffer.from('x')]), { code: 'ERR_FASTLAYER_BUSY' });
    const head = await first;
    const rest = await p.finish();
    assert.ok(gunzipSync(Buffer.concat([head, rest.out])).equals(input.subarray(0, 3 * BLOCK_SIZE)));
  });

  it('destroy while a vectored call is in flight: it rejects with ERR_FASTLAYER_DESTROYED', async () => {
    const p = pipeline(6);
    const pending = p.update(lists(input, [65_536], 64)[0]!);
    p.destroy();
    await assert.rejects(pending, { code: 'ERR_FASTLAYER_DESTROYED' });
  });
});

describe('addon: output memory', { skip }, () => {
  it('large outputs are independent Buffers that outlive their pipeline and later pipelines', async () => {
    // Incompressible 1 MiB calls: each output gets a large block, reused once collected.
    const data = randomBytes(6 * 1024 * 1024, 33);
    const kept: Array<{ buf: Buffer; hash: string }> = [];
    for (const level of [1, 0, 6]) {
      const r = await runCalls(level, lists(data, [64 * 1024], 16));
      assert.ok(gunzipSync(r.out).equals(data), `level ${level} round trip`);
      for (const buf of r.outs) kept.push({ buf, hash: sha256(buf) });
    }
    assert.ok(kept.some((k) => k.buf.length >= 1024 * 1024));
    // Writing into one output changes no other (no two share bytes).
    for (const k of kept) k.buf.fill(0xa5);
    const filled = kept.map((k) => sha256(k.buf));
    // More pipelines, in parallel, allocate from the same free blocks; earlier outputs must not move.
    const more = await Promise.all([1, 1, 0, 2].map((level, i) => runCalls(level, lists(randomBytes(3 << 20, 40 + i), [256 * 1024], 4))));
    for (const r of more) assert.equal(r.size, r.out.length);
    kept.forEach((k, i) => assert.equal(sha256(k.buf), filled[i], `output ${i} changed after it was handed out`));
  });

  it('concurrent pipelines on the threadpool each get their own bytes', async () => {
    const inputs = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => (i % 2 ? randomBytes(2_500_000, 50 + i) : semiCompressible(2_500_000, 50 + i)));
    const results = await Promise.all(inputs.map((d, i) => runCalls(1 + (i % 2), lists(d, [64 * 1024, 1000], 20))));
    results.forEach((r, i) => {
      assert.ok(gunzipSync(r.out).equals(inputs[i]!), `pipeline ${i}`);
      assert.equal(r.digest, sha256(r.out));
    });
  });
});
