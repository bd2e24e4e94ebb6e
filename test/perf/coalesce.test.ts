// src/layer/coalesce.ts: how source chunks become engine inputs (about 1 MiB of views per call, small
// chunks staged), and that staged memory is never reused while an earlier input may still be read.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer, MAX_UPDATE, SMALL_CHUNK } from '../../src/layer/coalesce.js';
import type { ChunkReader } from '../../src/layer/readers.js';
import { cut, semiCompressible } from '../helpers/data.js';

/** A reader over fixed chunks that counts what was pulled. */
function reader(chunks: Uint8Array[]): ChunkReader & { pulled: number; closed: boolean } {
  let i = 0;
  return {
    pulled: 0,
    closed: false,
    async next() {
      if (i >= chunks.length) return null;
      const c = chunks[i++]!;
      this.pulled += c.length;
      return c;
    },
    close() {
      this.closed = true;
    },
  };
}

async function drain(c: Coalescer): Promise<Uint8Array[][]> {
  const lists: Uint8Array[][] = [];
  for (let list = await c.next(); list !== null; list = await c.next()) lists.push(list);
  return lists;
}

const total = (list: readonly Uint8Array[]) => list.reduce((n, c) => n + c.length, 0);
const joined = (lists: Uint8Array[][]) => Buffer.concat(lists.flat());

describe('coalescer', () => {
  it('passes 64 KiB chunks as views, about 1 MiB per input, without copying', async () => {
    const input = semiCompressible(3 * MAX_UPDATE + 12_345);
    const chunks = cut(input, 64 * 1024);
    const lists = await drain(new Coalescer(reader(chunks), false));
    assert.equal(lists.length, 4);
    assert.deepEqual(lists.map(total), [MAX_UPDATE, MAX_UPDATE, MAX_UPDATE, 12_345]);
    assert.ok(joined(lists).equals(input));
    // Every piece is a view of the caller's memory at the same place: nothing was copied.
    for (const piece of lists.flat()) {
      assert.equal(piece.buffer, input.buffer);
      assert.ok(piece.length >= SMALL_CHUNK || piece === lists.at(-1)!.at(-1));
    }
  });

  it('cuts a big chunk at MAX_UPDATE and carries the rest, still as views', async () => {
    const input = semiCompressible(2 * MAX_UPDATE + 100_000);
    const lists = await drain(new Coalescer(reader([input.subarray(0, 300_000), input.subarray(300_000)]), false));
    assert.deepEqual(lists.map(total), [MAX_UPDATE, MAX_UPDATE, 100_000]);
    assert.deepEqual(lists[0]!.map((p) => p.length), [300_000, MAX_UPDATE - 300_000]);
    assert.ok(joined(lists).equals(input));
    for (const piece of lists.flat()) assert.equal(piece.buffer, input.buffer);
  });

  it('copies chunks under SMALL_CHUNK together, in order with the views around them', async () => {
    const input = semiCompressible(MAX_UPDATE + 70_000, 3);
    const sizes = [100, 1, SMALL_CHUNK - 1, 200_000, 7, 9, 0, 3000, 500_000];
    const chunks: Uint8Array[] = [];
    let pos = 0;
    for (let i = 0; pos < input.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, input.length - pos);
      chunks.push(input.subarray(pos, pos + n));
      pos += n;
    }
    const lists = await drain(new Coalescer(reader(chunks), false));
    assert.ok(joined(lists).equals(input));
    assert.equal(total(lists[0]!), MAX_UPDATE);
    for (const piece of lists.flat()) {
      assert.ok(piece.length > 0, 'no empty pieces');
      // Views of the input are the big chunks; staged runs of small ones live elsewhere.
      if (piece.buffer === input.buffer) assert.ok(piece.length >= SMALL_CHUNK);
    }
    // A run of small chunks becomes one staged piece: two staged pieces are never adjacent.
    for (const list of lists) {
      for (let i = 1; i < list.length; i++) {
        assert.ok(list[i - 1]!.buffer === input.buffer || list[i]!.buffer === input.buffer, `pieces ${i - 1} and ${i} both staged`);
      }
    }
    assert.ok(lists.flat().length < chunks.length, `${lists.flat().length} pieces for ${chunks.length} chunks`);
  });

  it('keeps staged bytes intact until the second next() after the one that returned them', async () => {
    const input = semiCompressible(3 * MAX_UPDATE, 5);
    const c = new Coalescer(reader(cut(input, 1000)), false);
    const first = await c.next();
    const firstCopy = Buffer.concat(first!);
    // The engine may still read `first` while the next input is gathered (read-ahead).
    const second = await c.next();
    assert.ok(Buffer.concat(first!).equals(firstCopy), 'the read-ahead overwrote the input in the engine');
    assert.ok(Buffer.concat([firstCopy, ...second!]).equals(input.subarray(0, 2 * MAX_UPDATE)));
  });

  it('owned mode returns staged bytes as copies the consumer may keep', async () => {
    const input = semiCompressible(4 * MAX_UPDATE, 6);
    const lists = await drain(new Coalescer(reader(cut(input, 2000)), true));
    // Had the staging buffers been handed out, later inputs would have overwritten earlier ones.
    assert.ok(joined(lists).equals(input));
  });

  it('ends with null, and release() stops a next() in progress without further reads', async () => {
    let resolveRead!: (c: Uint8Array | null) => void;
    let reads = 0;
    const stalled: ChunkReader = {
      next: () => {
        reads++;
        return new Promise((r) => (resolveRead = r));
      },
      close() {},
    };
    const c = new Coalescer(stalled, false);
    const pending = c.next();
    c.release();
    resolveRead(Buffer.alloc(100));
    assert.equal(await pending, null);
    assert.equal(await c.next(), null);
    assert.equal(reads, 1);
    assert.equal(await new Coalescer(reader([]), false).next(), null);
  });
});
