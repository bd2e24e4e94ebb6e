// The OCI layout writer adding to a layout someone else prepared: what is already there is hostile.
// Its lock file is read without following a symlink, without blocking on a FIFO and only up to a cap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_NAME, lockLayout } from '../../src/layout/lock.js';
import { tempDir } from '../helpers/tree.js';

function isLayoutError(err: NodeJS.ErrnoException): boolean {
  assert.equal(err.code, 'ERR_IMAGE_LAYOUT', err.message);
  return true;
}

describe('OCI layout writer: odd lock files', () => {
  it('hazard: a dangling symlink as the lock fails with a coded error at once, no busy loop past the wait limit', async () => {
    const tmp = tempDir();
    try {
      symlinkSync(join(tmp.path, 'nowhere'), join(tmp.path, LOCK_NAME));
      // The old loop spun forever without checking its limit: only this signal ends it.
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(new Error('still spinning after 3 s')), 3_000);
      try {
        await assert.rejects(lockLayout(tmp.path, stop.signal, 100), isLayoutError);
      } finally {
        clearTimeout(timer);
      }
      assert.ok(lstatSync(join(tmp.path, LOCK_NAME)).isSymbolicLink(), 'left for a person to look at');
    } finally {
      tmp.remove();
    }
  });

  it('hazard: a directory as the lock is a coded error, not a raw EISDIR', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.path, LOCK_NAME));
      await assert.rejects(lockLayout(tmp.path, undefined, 100), isLayoutError);
    } finally {
      tmp.remove();
    }
  });
});
