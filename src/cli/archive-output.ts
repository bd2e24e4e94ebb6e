// Archive writers (src/archive/archive.ts) build their file under their own temporary name and
// rename it over the path they are given. Given the CLI output's temporary file, the archive takes its
// place; this puts back what the safe output had set on it (the replaced file's permission bits and,
// as root, its owner), so a private 0600 archive replaced by a new one stays private.
import { chmod, chown, stat } from 'node:fs/promises';

/** Runs `write` on the output's temporary file `path`, then restores that file's mode and owner. */
export async function writeInto<T>(path: string, write: (path: string) => Promise<T>): Promise<T> {
  const before = await stat(path);
  const result = await write(path);
  await chmod(path, before.mode & 0o7777);
  if (process.getuid?.() === 0) await chown(path, before.uid, before.gid);
  return result;
}
