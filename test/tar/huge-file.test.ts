// A directory holding a file over 8 GiB (sparse: no disk used): its size goes in a PAX record, and
// every one of its bytes streams through tarDirectory. Reading 8 GiB takes about 30 s of CPU, so this
// file is in the slow tier (scripts/test.cjs), which CI runs after the quick one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { tarDirectory } from '../../src/tar/directory.js';
import { tempDir } from '../helpers/tree.js';

describe('tarDirectory with a file over 8 GiB', () => {
  it('writes its size in a PAX record and streams every byte (a sparse file: no disk used)', { timeout: 300_000 }, async (t) => {
    const tmp = tempDir();
    try {
      const size = 8 * 1024 ** 3 + 1; // one byte past what 11 octal digits hold
      const fd = fs.openSync(join(tmp.path, 'huge.bin'), 'w');
      try {
        fs.ftruncateSync(fd, size);
        fs.writeSync(fd, Buffer.from('end'), 0, 3, size - 3);
      } catch (err) {
        return t.skip(`the temp filesystem cannot hold a sparse 8 GiB file: ${(err as Error).message}`);
      } finally {
        fs.closeSync(fd);
      }
      let total = 0;
      let head = Buffer.alloc(0);
      let tail = Buffer.alloc(0);
      for await (const chunk of tarDirectory(tmp.path, { mtime: 0 })) {
        total += chunk.length;
        if (head.length < 4096) head = Buffer.concat([head, chunk.subarray(0, 4096)]);
        tail = chunk.length >= 2048 ? Buffer.from(chunk.subarray(-2048)) : Buffer.concat([tail, chunk]).subarray(-2048);
      }
      // PAX header + record block + ustar header, the data padded to 512, two zero blocks.
      assert.equal(total, 3 * 512 + Math.ceil(size / 512) * 512 + 1024);
      assert.match(head.subarray(512, 1024).toString('latin1'), /^\d+ size=8589934593\n/);
      // The last 2048 bytes: 'end' is the data's last 3 bytes, before 511 bytes of padding and 1024 of end.
      assert.equal(tail.indexOf('end'), 2048 - 1024 - 511 - 3);
      assert.ok(tail.subarray(1024).equals(Buffer.alloc(1024)));
    } finally {
      tmp.remove();
    }
  });
});
