// Ctrl-C and friends. The first signal aborts the run (commands get the AbortSignal and clean up
// their own outputs); the process then exits 128+n. Temporary files are also removed synchronously
// on a second signal, when the run does not wind down in time, and at exit whatever the path: a
// temporary file never outlives the process that made it.
import { removeTemporaries } from '../core/temporaries.js';
import { ErrCliInterrupted } from './errors.js';

// The record itself lives in core, where the library's writers (archive.ts) add to it too.
export { trackTemporary, untrackTemporary } from '../core/temporaries.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Time the run gets to clean up after the first signal before the process is ended anyway. */
const GRACE_MS = 3000;

export interface Interrupt {
  readonly signal: AbortSignal;
  /** The signal that stopped the run, if one did. */
  readonly received: () => ErrCliInterrupted | undefined;
}

export function installInterrupt(onForcedExit: (error: ErrCliInterrupted) => void): Interrupt {
  const controller = new AbortController();
  let received: ErrCliInterrupted | undefined;
  const forced = (error: ErrCliInterrupted): void => {
    removeTemporaries();
    onForcedExit(error);
    process.exit(error.exitCode);
  };
  for (const name of SIGNALS) {
    process.on(name, () => {
      if (received) return forced(received);
      received = new ErrCliInterrupted(name);
      controller.abort(received);
      setTimeout(() => forced(received!), GRACE_MS).unref();
    });
  }
  process.on('exit', removeTemporaries);
  return { signal: controller.signal, received: () => received };
}
