// The directory walk keeps several small files being opened and read ahead of the tar writer
// (src/tar/writer.ts, READ_AHEAD): a tree of many small files is latency bound. These tests check that
// reads really overlap, and that the order in which they complete never changes the tar.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tarDirectory } from '../../src/tar/directory.js';
import { readTar } from '../../src/tar/reader.js';
import { kTestHooks, type TestHooks } from '../../src/tar/walker.js';
import { tempDir } from '../helpers/tree.js';

async function tarOf(dir: string, hooks: TestHooks = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarDirectory(dir, { [kTestHooks]: hooks } as never)) chunks.push(c);
  return Buffer.concat(chunks);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('tarDirectory: small files read ahead', () => {
  const tmp = tempDir('fastlayer-readahead-');
  const files = new Map<string, Buffer>();
  before(() => {
    // 1,200 files from empty to past the 128 KiB read inline, over 12 directories.
    for (let i = 0; i < 1200; i++) {
      const dir = `d${String(i % 12).padStart(2, '0')}`;
      mkdirSync(join(tmp.path, dir), { recursive: true });
      const size = i % 97 === 0 ? 128 * 1024 + (i % 3) - 1 : (i * 7919) % 6000;
      const bytes = createHash('sha256').update(String(i)).digest();
      const data = Buffer.alloc(size);
      for (let o = 0; o < size; o += bytes.length) bytes.copy(data, o);
      const name = `${dir}/f${String(i).padStart(5, '0')}`;
      writeFileSync(join(tmp.path, name), data);
      files.set(name, data);
    }
  });
  after(() => tmp.remove());

  it('keeps several files open and read at once', async () => {
    let inFlight = 0;
    let most = 0;
    await tarOf(tmp.path, {
      afterOpen: async () => {
        most = Math.max(most, ++inFlight);
        await sleep(1);
        inFlight--;
      },
    });
    assert.ok(most >= 8, `reads in flight at once: ${most}`);
  });

  it('gives the same tar whatever order the reads complete in, with every file whole, in name order', async () => {
    const plain = await tarOf(tmp.path);
    let n = 0;
    // Later files finish first: each waits less than the one before it.
    const shuffled = await tarOf(tmp.path, { afterOpen: () => sleep(n++ % 5 === 0 ? 0 : 4 - (n % 4)) });
    assert.ok(plain.equals(shuffled), 'identical bytes');
    const seen: string[] = [];
    for await (const e of readTar(plain)) {
      if (e.header.type !== 'file') continue;
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(Buffer.from(c));
      const want = files.get(e.header.name)!;
      assert.ok(want && Buffer.concat(chunks).equals(want), e.header.name);
      seen.push(e.header.name);
    }
    assert.deepEqual(seen, [...files.keys()].sort());
  });

  it('a file that grows while read ahead is still refused as before (ERR_TAR_SOURCE_CHANGED)', async () => {
    const target = join(tmp.path, 'd03', 'f00003');
    const before = readFileSync(target);
    try {
      await assert.rejects(tarOf(tmp.path, {
        afterOpen: (rel) => {
          if (rel === 'd03/f00003') writeFileSync(target, Buffer.concat([before, Buffer.alloc(10)]));
        },
      }), { code: 'ERR_TAR_SOURCE_CHANGED' });
    } finally {
      writeFileSync(target, before);
    }
  });
});
