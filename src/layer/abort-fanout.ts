// One 'abort' listener per AbortSignal, however many layers wait on it. A signal shared by the
// layers of a build is the natural pattern, and Node warns (MaxListenersExceededWarning) once an
// AbortSignal has more than 10 listeners, although nothing leaks. Raising the signal's limit
// (events.setMaxListeners) would change the caller's object; events.addAbortListener still adds one
// listener per call. So the layers of one signal share a single listener that calls each of them.

interface Entry {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const entries = new WeakMap<AbortSignal, Entry>();

/**
 * Calls `callback` once when `signal` aborts (not if it already has: callers check `aborted`).
 * Returns a function that unsubscribes it; the last one to go removes the shared listener.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let entry = entries.get(signal);
  if (entry === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      entries.delete(signal);
      const all = [...callbacks];
      callbacks.clear();
      for (const call of all) {
        try {
          call();
        } catch (err) {
          // As if each were a listener of its own: one failure neither stops the others nor is lost.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    };
    entry = { callbacks, listener };
    entries.set(signal, entry);
    signal.addEventListener('abort', listener, { once: true });
  }
  const mine = entry;
  mine.callbacks.add(callback);
  return () => {
    if (!mine.callbacks.delete(callback) || mine.callbacks.size > 0) return;
    if (entries.get(signal) === mine) entries.delete(signal);
    signal.removeEventListener('abort', mine.listener);
  };
}
