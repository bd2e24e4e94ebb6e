// src/engine/native-engine.ts: the addon behind the Engine interface (the shared engine suites cover the
// format through the Layer; this checks the mapping itself).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { nativeEngine } from '../../src/engine/native-engine.js';
import { loadNative } from '../../src/engine/native.js';
import { ErrEngineState } from '../../src/core/errors.js';
import { semiCompressible } from '../helpers/data.js';

const skip = nativeEngine ? false : `addon did not load: ${loadNative().error?.message}`;

describe('native engine factory', { skip }, () => {
  const engine = nativeEngine!;

  it('names itself and reports the addon details', () => {
    const { info } = loadNative().addon!;
    assert.equal(engine.name, 'native');
    assert.equal(engine.details.isal, info.isal);
    assert.equal(engine.details.zlib, info.zlib);
    assert.equal(engine.details.sha256, info.sha256);
    assert.equal(engine.details.fingerprint, info.fingerprint);
    assert.ok(Object.isFrozen(engine.details));
  });

  it('uses the SHA-256 path FASTLAYER_SHA256 asks for (CI runs the shared suite with it = portable)', () => {
    if (process.env.FASTLAYER_SHA256 === 'portable') assert.equal(engine.details.sha256, 'portable');
    else assert.ok(['sha-ni', 'armv8-sha2', 'portable'].includes(engine.details.sha256!), engine.details.sha256);
  });

  it('maps update/finish to EngineResult with hex digests', async () => {
    const input = semiCompressible(300_000, 3);
    const e = engine.create({ level: 1, compression: 'gzip' });
    const head = await e.update(input.subarray(0, 1000));
    const body = await e.update(input.subarray(1000));
    const result = await e.finish();
    const out = Buffer.concat([head, body, result.tail]);
    assert.deepEqual(gunzipSync(out), input);
    assert.equal(result.digest, createHash('sha256').update(out).digest('hex'));
    assert.equal(result.diffID, createHash('sha256').update(input).digest('hex'));
    assert.equal(result.size, out.length);
  });

  it("compression 'none' passes through", async () => {
    const e = engine.create({ level: 6, compression: 'none' });
    const out = await e.update(Buffer.from('plain'));
    const result = await e.finish();
    assert.equal(Buffer.from(out).toString(), 'plain');
    assert.equal(result.tail.length, 0);
    assert.equal(result.digest, result.diffID);
  });

  it('rejects calls after finish or destroy with ErrEngineState; destroy is idempotent', async () => {
    const e = engine.create({ level: 0, compression: 'gzip' });
    await e.finish();
    await assert.rejects(e.update(Buffer.from('x')), ErrEngineState);
    e.destroy();
    e.destroy();
    await assert.rejects(e.finish(), ErrEngineState);
  });

  it('consumerSlow() changes how outputs are reported to the collector, never the bytes', async () => {
    const input = semiCompressible(3 * 1024 * 1024, 5);
    for (const threads of [1, 2]) {
      const layer = async (slowFrom: number | undefined) => {
        const e = engine.create({ level: 1, compression: 'gzip', threads });
        const parts: Uint8Array[] = [];
        for (let at = 0, call = 0; at < input.length; at += 1024 * 1024, call++) {
          if (slowFrom !== undefined) e.consumerSlow!(call >= slowFrom);
          parts.push(await e.update(input.subarray(at, at + 1024 * 1024)));
        }
        const { tail, digest } = await e.finish();
        return { bytes: Buffer.concat([...parts, tail]), digest };
      };
      const plain = await layer(undefined);
      const hinted = await layer(1);
      assert.ok(plain.bytes.equals(hinted.bytes), `threads ${threads}`);
      assert.equal(hinted.digest, plain.digest);
    }
    const e = engine.create({ level: 1, compression: 'gzip' });
    e.destroy();
    e.consumerSlow!(true);  // after destroy: ignored, no throw
  });

  it('passes the addon argument errors through', () => {
    assert.throws(() => engine.create({ level: 12, compression: 'gzip' }), { code: 'ERR_OUT_OF_RANGE' });
  });
});
