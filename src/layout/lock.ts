// The lock around an OCI layout's index.json: two writers adding tags to one layout at once would
// each read the old index and the second rename would drop the first one's tag. A writer holds
// `index.json.lock` while it reads, merges and replaces index.json.
//
// The lock file is made complete before it appears: its text (`fastlayer PID HOST`) is written to a
// temp file that is then hard-linked to the lock name, which fails if the name exists, so no one
// ever sees an empty lock. A lock is broken only when it names this host and its process is gone
// (a writer that crashed): a lock of another host (a shared file system) or of a live process is
// waited for, up to a time limit, then reported with the lock's path so that a person can remove it.
import { hostname } from 'node:os';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrLayout } from '../image/errors.js';
import { tempName, writeAtomic } from './files.js';

export const LOCK_NAME = 'index.json.lock';

/** How long a writer waits for another's lock before it fails (index updates take milliseconds). */
export const LOCK_WAIT_MS = 30_000;

function ownText(): string {
  return `fastlayer ${process.pid} ${hostname()}\n`;
}

/** True when `text` names a process of this host that no longer exists. */
function stale(text: string): boolean {
  const m = /^fastlayer (\d+) (.*)\n$/.exec(text);
  if (!m || m[2] !== hostname()) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists, run by someone else.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function readLock(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Moves a stale lock out of the way. Another writer may have broken it and taken a lock of its own
 * meanwhile: the lock moved aside is checked again, and put back if it is not the stale one.
 */
async function breakStale(path: string, seen: string): Promise<void> {
  const aside = tempName(path);
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readLock(aside);
  if (moved !== seen) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/** Creates the lock file or fails with EEXIST: a hard link, else (a file system without them) an exclusive create. */
async function create(mine: string, path: string, text: string): Promise<void> {
  try {
    await link(mine, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    await writeFile(path, text, { flag: 'wx' });
  }
}

/** Takes the lock of the layout `dir`; resolves to the function that releases it. */
export async function lockLayout(dir: string, signal?: AbortSignal, waitMs = LOCK_WAIT_MS): Promise<() => Promise<void>> {
  const path = `${dir}/${LOCK_NAME}`;
  const text = ownText();
  const mine = tempName(path);
  await writeAtomic(mine, Buffer.from(text));
  const started = Date.now();
  let pause = 5;
  try {
    for (;;) {
      signal?.throwIfAborted();
      try {
        await create(mine, path, text);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ErrLayout(`${path}: cannot take the lock: ${(err as Error).message}`, err);
      }
      const held = await readLock(path);
      if (held === undefined) continue;
      if (stale(held)) {
        await breakStale(path, held);
        continue;
      }
      if (Date.now() - started > waitMs) {
        throw new ErrLayout(`${dir}: index.json is locked by another writer (${held.trim()}); if none is running, remove ${path}`);
      }
      await sleep(pause, undefined, signal ? { signal } : {});
      pause = Math.min(pause * 2, 100);
    }
  } finally {
    await unlink(mine).catch(() => undefined);
  }
  return async () => {
    // Ours only: a lock that is not (broken by mistake and retaken) is left to its owner.
    if ((await readLock(path).catch(() => undefined)) === text) await unlink(path).catch(() => undefined);
  };
}
