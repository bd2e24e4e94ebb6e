// Temporary directory trees for tests.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export function tempDir(prefix = 'fastlayer-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `count` small files spread over 10 directories. */
export function manyFiles(root: string, count: number): void {
  for (let d = 0; d < 10; d++) mkdirSync(join(root, `dir${d}`), { recursive: true });
  for (let i = 0; i < count; i++) {
    writeFileSync(join(root, `dir${i % 10}`, `file-${String(i).padStart(4, '0')}.txt`), `file ${i}\n`.repeat(1 + (i % 50)));
  }
}

/** System tar writing `dir` to its stdout: a concurrent producer feeding a pipe. */
export function tarProcess(dir: string, ...extra: string[]): ChildProcessByStdio<null, Readable, null> {
  return spawn('tar', ['-c', '--sort=name', ...extra, '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
}

/** First existing system directory of a few tens of MB, for realistic tar inputs. */
export const SYSTEM_DIRS = [
  '/usr/share/perl',
  '/usr/lib/x86_64-linux-gnu/perl',
  '/usr/lib/x86_64-linux-gnu/perl-base',
  '/usr/share/doc',
];
