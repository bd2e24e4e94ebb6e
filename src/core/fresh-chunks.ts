// A mark for sources of chunks that never touch a chunk again once it is handed on: each chunk is
// memory of its own (a new allocation, or a slice of Node's pool no one writes again), which the
// source neither changes, reuses, transfers nor hands to anyone else. A consumer that keeps chunks
// (the eStargz writer holds them until a native call has read them on its worker) may then skip its
// copy. Only the project's own sources carry the mark (tarDirectory's stream, a file the layer reads
// itself); the symbol is not exported from the package, so no foreign source carries it by accident,
// and every other source's chunks are copied.
export const kFreshChunks: unique symbol = Symbol('fastlayer.freshChunks');

/** Marks `source` (the project's own) as yielding fresh chunks; returns it. */
export function markFresh<T extends object>(source: T): T {
  Object.defineProperty(source, kFreshChunks, { value: true });
  return source;
}

/** Whether `source` carries the mark (its own property, set by markFresh). */
export function isFresh(source: unknown): boolean {
  return typeof source === 'object' && source !== null && Object.prototype.hasOwnProperty.call(source, kFreshChunks);
}
