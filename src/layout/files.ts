// Small file helpers for outputs: unique temp names beside the target, atomic replace, and the
// errors with which the layout writer reads what an existing layout already holds.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrLayout } from '../image/errors.js';
import type { StoreErrors } from './store.js';
import { trackTemporary, untrackTemporary } from '../core/temporaries.js';

/**
 * What the writer finds in a layout it adds to (a symlinked index.json, a FIFO lock) makes it unable
 * to write that layout: ERR_IMAGE_LAYOUT, as its other refusals, through the reader's own safe opens.
 */
export const WRITER_ERRORS: StoreErrors = {
  invalid: (message, cause) => new ErrLayout(message, cause),
  unsafe: (where, name) => new ErrLayout(`${where}: unsafe name ${JSON.stringify(name)}`),
};

export function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.fastlayer-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `bytes`, synced, to a new temp file beside `target` and returns its path: the caller renames
 * it into place or removes it (and then calls untrackTemporary). It is recorded so that a process
 * ended by a second signal leaves no temp behind (src/core/temporaries.ts); on failure it is removed.
 */
export async function writeTemp(target: string, bytes: Uint8Array): Promise<string> {
  const tmp = tempName(target);
  const fh = await open(tmp, 'wx', 0o644);
  trackTemporary(tmp);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    untrackTemporary(tmp);
    throw err;
  }
  await fh.close();
  return tmp;
}

/** Writes `bytes` to `target` through a temp file and a rename, so readers see old or new, never half. */
export async function writeAtomic(target: string, bytes: Uint8Array): Promise<void> {
  const tmp = await writeTemp(target, bytes);
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    untrackTemporary(tmp);
  }
}
