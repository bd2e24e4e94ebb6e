// Small file helpers for outputs: unique temp names beside the target, atomic replace.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export function tempName(target: string): string {
  return join(dirname(target), `.${basename(target)}.fastlayer-${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes `bytes` to `target` through a temp file and a rename, so readers see old or new, never half. */
export async function writeAtomic(target: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempName(target);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
