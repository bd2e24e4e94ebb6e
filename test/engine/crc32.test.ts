import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { crc32, crc32Table, crc32Implementation } from '../../src/engine/crc32.js';
import { randomBytes } from '../helpers/data.js';

describe('crc32', () => {
  it('matches the standard check values', () => {
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Table(new Uint8Array(0)), 0);
    assert.equal(crc32Table(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414fa339);
    assert.equal(crc32(Buffer.from('123456789'), 0), 0xcbf43926);
  });

  it('continues across any split, for both implementations', () => {
    const data = randomBytes(100_003, 3);
    const whole = crc32Table(data);
    for (const split of [0, 1, 7, 8, 9, 4096, 65_537, 100_002, 100_003]) {
      assert.equal(crc32Table(data.subarray(split), crc32Table(data.subarray(0, split))), whole, `table split ${split}`);
      assert.equal(crc32(data.subarray(split), crc32(data.subarray(0, split), 0)), whole, `crc32 split ${split}`);
    }
  });

  it('agrees with node:zlib when Node has it', (t) => {
    const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
    if (!native) return t.skip(`zlib.crc32 is missing in Node ${process.version}; using ${crc32Implementation}`);
    for (const n of [1, 3, 15, 16, 17, 1000, 262_147]) {
      const data = randomBytes(n, n);
      assert.equal(crc32Table(data), native(data) >>> 0, `length ${n}`);
    }
  });
});
