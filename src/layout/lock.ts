// The lock around an OCI layout's index.json: two writers adding tags to one layout at once would
// each read the old index and the second rename would drop the first one's tag. A writer holds
// `index.json.lock` while it reads, merges and replaces index.json.
//
// The lock file is made complete before it appears: its text (`fastlayer PID HOST`) is written to a
// temp file that is then hard-linked to the lock name, which fails if the name exists, so no one
// ever sees an empty lock. A lock is broken only when it names this host and its process is gone
// (a writer that crashed): a lock of another host (a shared file system) or of a live process is
// waited for, up to a time limit, then reported with the lock's path so that a person can remove it.
// Anything else under the lock's name (a symlink, a directory, a FIFO, a file larger than a lock) was
// not written by fastlayer and is never broken: it is reported at once, and nothing is read through it.
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { link, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrLayout } from '../image/errors.js';
import { tempName, writeTemp, WRITER_ERRORS } from './files.js';
import { untrackTemporary } from '../core/temporaries.js';
import { readInside } from './store.js';

export const LOCK_NAME = 'index.json.lock';

/** How long a writer waits for another's lock before it fails (index updates take milliseconds). */
export const LOCK_WAIT_MS = 30_000;

/** A lock's text is `fastlayer PID HOST\n`: a host name is at most 255 bytes. */
const LOCK_CAP = 512;

const LOCK_TEXT = /^fastlayer (\d+) ([^\n]*)\n$/;

function ownText(): string {
  return `fastlayer ${process.pid} ${hostname()}\n`;
}

/** True when `text` names a process of this host that no longer exists. */
function stale(text: string): boolean {
  const m = LOCK_TEXT.exec(text);
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

/** The lock's text; undefined when absent; ErrLayout when it is not a small regular file (never followed, never blocks). */
async function readLock(path: string): Promise<string | undefined> {
  return (await readInside(dirname(path), basename(path), LOCK_CAP, WRITER_ERRORS))?.toString('utf8');
}

/** Who holds the lock, for the message: only a lock's own text is repeated, not arbitrary bytes. */
function holder(text: string): string {
  return LOCK_TEXT.test(text) ? text.trim() : 'a file that is not a fastlayer lock';
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
  // Unreadable now (replaced by something odd): not the stale lock seen, so it goes back too.
  const moved = await readLock(aside).catch(() => undefined);
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
  // Complete before it is linked as the lock, so that no reader ever sees an empty lock.
  const mine = await writeTemp(path, Buffer.from(text));
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
      // Every way round the loop passes the time limit and a pause: a lock that vanishes or is
      // broken over and over must not spin at full speed, nor past waitMs (abort() has no signal).
      const held = await readLock(path);
      const broken = held !== undefined && stale(held);
      if (broken) await breakStale(path, held);
      if (Date.now() - started > waitMs) {
        const who = held === undefined || broken ? 'writers that keep taking it' : holder(held);
        throw new ErrLayout(`${dir}: index.json is locked by another writer (${who}); if none is running, remove ${path}`);
      }
      await sleep(pause, undefined, signal ? { signal } : {});
      pause = Math.min(pause * 2, 100);
    }
  } finally {
    await unlink(mine).catch(() => undefined);
    untrackTemporary(mine);
  }
  return async () => {
    // Ours only: a lock that is not (broken by mistake and retaken) is left to its owner.
    if ((await readLock(path).catch(() => undefined)) === text) await unlink(path).catch(() => undefined);
  };
}
