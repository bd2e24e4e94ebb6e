// Temporary files this process made and has not yet renamed into place or removed. Writers record
// theirs here (the CLI's outputs, an archive's file under construction, a staged archive) because a
// second Ctrl-C ends the process before their own cleanup can run: the CLI's interrupt handler
// (src/cli/interrupt.ts) removes what is left, synchronously, on that signal and at exit.
import { unlinkSync } from 'node:fs';

const temporaries = new Set<string>();

/** Remembers a temporary file this process created, to remove it if the process ends early. */
export function trackTemporary(path: string): void {
  temporaries.add(path);
}

/** The temporary file was renamed into place or removed: nothing to clean up anymore. */
export function untrackTemporary(path: string): void {
  temporaries.delete(path);
}

/** Removes every temporary file still recorded (synchronous: safe in an exit handler). */
export function removeTemporaries(): void {
  for (const path of temporaries) {
    try {
      unlinkSync(path);
    } catch {
      // Already gone: nothing of ours to remove.
    }
    temporaries.delete(path);
  }
}
