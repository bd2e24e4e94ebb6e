// A consumer may stop reading a tar stream at any chunk (a failed upload, a destroyed layer): every
// descriptor the walk and the writer opened must be closed then, whichever entry was being written.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tarDirectory } from '../../src/tar/directory.js';
import { tempDir } from '../helpers/tree.js';

const linuxOnly = process.platform === 'linux' ? false : 'counts descriptors in /proc/self/fd';
const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('tarDirectory: a consumer that stops early', { skip: linuxOnly }, () => {
  const tmp = tempDir('fastlayer-abandon-');
  let chunks = 0;
  before(async () => {
    // Large files (streamed from their descriptor) between small ones (read ahead and inlined), in
    // nested directories (each held open while walked).
    for (let i = 0; i < 24; i++) {
      const dir = join(tmp.path, `d${i % 3}`, `e${i % 2}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `f${String(i).padStart(2, '0')}`), Buffer.alloc(i % 3 === 0 ? 300 * 1024 + i : 100 + i, i));
    }
    for await (const _ of tarDirectory(tmp.path, {})) chunks++;
  });
  after(() => tmp.remove());

  it('hazard: stopping after any chunk, the header of a large file included, leaves no descriptor open', async () => {
    assert.ok(chunks > 20, `${chunks} chunks`);
    const before = openFds();
    for (let stopAt = 1; stopAt <= chunks; stopAt++) {
      let n = 0;
      for await (const _ of tarDirectory(tmp.path, {})) if (++n === stopAt) break;
      // Closes of descriptors with a read in flight wait for it to settle.
      for (let i = 0; i < 50 && openFds() > before; i++) await sleep(10);
      assert.equal(openFds(), before, `stopped after chunk ${stopAt} of ${chunks}`);
    }
  });
});
