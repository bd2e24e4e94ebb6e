import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { storedBlocks, STORED_MAX } from '../../src/engine/stored.js';
import { BLOCK_SIZE } from '../../src/engine/format.js';
import { randomBytes } from '../helpers/data.js';

function headers(out: Uint8Array): Array<[number, number]> {
  const blocks: Array<[number, number]> = [];
  for (let pos = 0; pos < out.length; ) {
    const len = out[pos + 1]! | (out[pos + 2]! << 8);
    const nlen = out[pos + 3]! | (out[pos + 4]! << 8);
    assert.equal(nlen, ~len & 0xffff, 'NLEN is the complement of LEN');
    blocks.push([out[pos]!, len]);
    pos += 5 + len;
  }
  return blocks;
}

describe('stored blocks (level 0, docs/DESIGN.md)', () => {
  it('encodes an empty final unit as 01 00 00 ff ff and an empty full unit as nothing', () => {
    assert.deepEqual([...storedBlocks(new Uint8Array(0), true)], [1, 0, 0, 0xff, 0xff]);
    assert.equal(storedBlocks(new Uint8Array(0), false).length, 0);
  });

  it('splits a unit into ceil(n/65535) blocks, BFINAL only on the last block of the stream', () => {
    assert.deepEqual(headers(storedBlocks(new Uint8Array(1), true)), [[1, 1]]);
    assert.deepEqual(headers(storedBlocks(new Uint8Array(STORED_MAX), false)), [[0, STORED_MAX]]);
    assert.deepEqual(headers(storedBlocks(new Uint8Array(STORED_MAX + 1), true)), [[0, STORED_MAX], [1, 1]]);
    assert.deepEqual(headers(storedBlocks(new Uint8Array(BLOCK_SIZE), false)), [
      [0, STORED_MAX], [0, STORED_MAX], [0, STORED_MAX], [0, STORED_MAX], [0, BLOCK_SIZE - 4 * STORED_MAX],
    ]);
  });

  it('is valid deflate data carrying the input', () => {
    const a = randomBytes(BLOCK_SIZE, 1);
    const b = randomBytes(70_000, 2);
    const stream = Buffer.concat([storedBlocks(a, false), storedBlocks(b, true)]);
    assert.ok(zlib.inflateRawSync(stream).equals(Buffer.concat([a, b])));
  });
});
