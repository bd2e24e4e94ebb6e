// Names inside a base image (a docker-save manifest.json's Config and Layers paths): checked before
// they reach the store. Archives themselves are indexed by src/layout/store.ts, the one store every
// local reader uses, on the project's own tar decoder (src/tar/index.ts).
import { storeName } from '../layout/store.js';
import { ErrUnsafeArchivePath } from '../image/errors.js';

/** `./a/b` -> `a/b`; refuses what could resolve outside the archive's or layout's root. */
export function safeName(archive: string, name: string): string {
  const n = storeName(name);
  if (n === undefined) throw new ErrUnsafeArchivePath(archive, name);
  return n;
}
